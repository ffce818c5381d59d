"""The wheel ships the catalog and the scenarios: build it, install it in a fresh venv, load them."""

from __future__ import annotations

import os
import subprocess
import sys
import venv
from pathlib import Path

import pytest

from chaoskit.scenario import shipped_scenarios

ROOT = Path(__file__).resolve().parent.parent


def sh(*args: str | Path, cwd: Path) -> str:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    done = subprocess.run([str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, f"{args} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    sh(sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--wheel-dir", out, ROOT, cwd=out)
    [built] = out.glob("chaoskit-*.whl")
    return built


def test_wheel_contains_the_catalog_and_the_plugin_entry_point(wheel: Path) -> None:
    import zipfile

    names = zipfile.ZipFile(wheel).namelist()
    assert "chaoskit/catalog/openai.yaml" in names
    assert "chaoskit/catalog/anthropic.yaml" in names
    assert "chaoskit/py.typed" in names
    assert "chaoskit/scenarios/scenario.schema.json" in names
    assert "chaoskit/scenarios/provider-outage.yaml" in names and "chaoskit/scenarios/slow-database.yaml" in names
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    text = zipfile.ZipFile(wheel).read(entry_points).decode()
    assert "[pytest11]" in text and "chaoskit = chaoskit.pytest_plugin" in text


@pytest.fixture(scope="module")
def installed(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv with the wheel and its staging extra installed; its directory."""
    env_dir = tmp_path_factory.mktemp("installed") / "venv"
    uv = Path(sys.executable).with_name("uv")  # make test's installer: the same wheel, in seconds
    venv.create(env_dir, with_pip=not uv.exists())
    install = [uv, "pip", "install", "--python", env_dir / "bin" / "python"] if uv.exists() else [env_dir / "bin" / "python", "-m", "pip", "install"]
    sh(*install, "--quiet", f"{wheel}[staging]", cwd=env_dir.parent)
    return env_dir


def test_installed_wheel_loads_the_catalog_in_a_fresh_venv(installed: Path, tmp_path: Path) -> None:
    env_dir = installed
    python = env_dir / "bin" / "python"
    out = sh(
        python, "-c",
        "import chaoskit, chaoskit._catalog as c; from chaoskit import faults; "
        "print(chaoskit.__file__); print(c.catalog_files()[0]); print(len(faults.ids())); "
        "print(faults.get('anthropic.overloaded').params['status'])",
        cwd=tmp_path,
    ).splitlines()
    assert out[0].startswith(str(env_dir))
    assert out[1].startswith(str(env_dir)) and out[1].endswith("chaoskit/catalog/anthropic.yaml")
    assert int(out[2]) == len(list(_catalog_ids()))
    assert out[3] == "529"


def test_installed_wheel_validates_its_shipped_scenarios(installed: Path, tmp_path: Path) -> None:
    python = installed / "bin" / "python"
    out = sh(python, "-c", "from chaoskit.scenario import schema_path, shipped_scenarios; print(schema_path()); "
             "print(*shipped_scenarios(), sep='\\n')", cwd=tmp_path).splitlines()
    packaged = installed / "lib"
    assert all(line.startswith(str(packaged)) and "/chaoskit/scenarios/" in line for line in out)
    assert [Path(line).name for line in out] == ["scenario.schema.json", *(p.name for p in shipped_scenarios())]
    done = subprocess.run([str(installed / "bin" / "chaoskit"), "validate", *out[1:]], capture_output=True, text=True,
                          timeout=120, cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert len(done.stdout.splitlines()) == len(out) - 1 and done.stdout.startswith("ok: ")
    schema = subprocess.run([str(installed / "bin" / "chaoskit"), "validate", "--schema"], capture_output=True, text=True,
                            timeout=60, cwd=tmp_path)
    assert schema.stdout == (ROOT / "scenarios" / "scenario.schema.json").read_text()


def _catalog_ids() -> list[str]:
    from chaoskit import faults

    return faults.ids()
