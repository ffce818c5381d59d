"""The wheel ships the catalog: build it, install it in a fresh venv, load the faults."""

from __future__ import annotations

import os
import subprocess
import sys
import venv
from pathlib import Path

import pytest

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
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    text = zipfile.ZipFile(wheel).read(entry_points).decode()
    assert "[pytest11]" in text and "chaoskit = chaoskit.pytest_plugin" in text


def test_installed_wheel_loads_the_catalog_in_a_fresh_venv(wheel: Path, tmp_path: Path) -> None:
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    python = env_dir / "bin" / "python"
    sh(python, "-m", "pip", "install", "--quiet", wheel, cwd=tmp_path)
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


def _catalog_ids() -> list[str]:
    from chaoskit import faults

    return faults.ids()
