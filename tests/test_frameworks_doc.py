"""docs/frameworks.md shows each framework recipe as the file that runs, so the two cannot drift.

Each recipe in ``tests/frameworks_env/`` is on the page verbatim, in a ``python`` block after a
``<!-- tests/frameworks_env/FILE -->`` line; the recipes run in the frameworks' environments
(``make test-frameworks``), this check runs everywhere. After changing a recipe, copy it onto the
page with ``python tests/test_frameworks_doc.py``.
"""

from __future__ import annotations

import difflib
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PAGE = ROOT / "docs" / "frameworks.md"
#: Recipes are the test files of tests/frameworks_env/, less the checks that are not recipes.
NOT_RECIPES = {"test_side_traffic.py"}
RECIPES = sorted(p.relative_to(ROOT).as_posix() for p in (ROOT / "tests" / "frameworks_env").glob("test_*.py")
                 if p.name not in NOT_RECIPES)
BLOCK = re.compile(r"(<!-- (tests/frameworks_env/test_\w+\.py) -->\n```python\n)(.*?)(```\n)", re.S)


def shown(page: str) -> dict[str, str]:
    """The code shown for each recipe file named on the page."""
    return {m.group(2): m.group(3) for m in BLOCK.finditer(page)}


def synced(page: str) -> str:
    """The page with every recipe block replaced by its file."""
    return BLOCK.sub(lambda m: m.group(1) + (ROOT / m.group(2)).read_text() + m.group(4), page)


def test_every_recipe_is_on_the_page() -> None:
    assert sorted(shown(PAGE.read_text())) == RECIPES


@pytest.mark.parametrize("recipe", RECIPES)
def test_the_page_shows_the_recipe_as_it_runs(recipe: str) -> None:
    on_page, in_file = shown(PAGE.read_text()).get(recipe, ""), (ROOT / recipe).read_text()
    diff = "".join(difflib.unified_diff(on_page.splitlines(True), in_file.splitlines(True), "docs/frameworks.md", recipe))
    assert on_page == in_file, f"docs/frameworks.md shows another {recipe}; run python tests/test_frameworks_doc.py\n{diff}"


if __name__ == "__main__":
    PAGE.write_text(synced(PAGE.read_text()))
