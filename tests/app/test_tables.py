"""Every table of the pages writes a missing value as the one dash of ``core.spec.formats``."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PAGES = sorted([ROOT / "app.py", *(ROOT / "pages").rglob("*.py")])


def tables_without_the_dash(source: str) -> list[int]:
    """Lines of ``.dataframe(...)`` calls whose ``placeholder`` is not ``MISSING``."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call) and getattr(node.func, "attr", None) == "dataframe":
            given = {k.arg: k.value for k in node.keywords}
            value = given.get("placeholder")
            if not (isinstance(value, ast.Name) and value.id == "MISSING"):
                found.append(node.lineno)
    return found


def test_the_scan_finds_a_table_that_would_write_none() -> None:
    sample = (
        "st.dataframe(frame)\n"
        "st.dataframe(frame, placeholder=MISSING)\n"
        "left.dataframe(frame, placeholder='None')\n"
    )
    assert tables_without_the_dash(sample) == [1, 3]


@pytest.mark.parametrize("path", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_table_writes_a_missing_value_as_a_dash(path: Path) -> None:
    assert tables_without_the_dash(path.read_text()) == []
