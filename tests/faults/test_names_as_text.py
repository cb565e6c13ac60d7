"""Names people type (study names, values) are shown as text: no page renders raw HTML."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

pytestmark = pytest.mark.faults

ROOT = Path(__file__).resolve().parents[2]
PAGES = sorted([ROOT / "app.py", *(ROOT / "pages").rglob("*.py")])


def raw_html_calls(source: str) -> list[str]:
    """Every call in ``source`` that could render text as HTML: ``st.html`` of anything but
    a fixed string (a literal, or a module constant bound to one), or
    ``unsafe_allow_html=True`` on any call."""
    tree = ast.parse(source)
    fixed = {
        target.id
        for node in tree.body
        if isinstance(node, ast.Assign)
        and isinstance(node.value, ast.Constant)
        and isinstance(node.value.value, str)
        for target in node.targets
        if isinstance(target, ast.Name)
    }
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        if isinstance(node.func, ast.Attribute) and node.func.attr == "html":
            arg = node.args[0] if node.args else None
            literal = isinstance(arg, ast.Constant) and isinstance(arg.value, str)
            if not (literal or (isinstance(arg, ast.Name) and arg.id in fixed)):
                found.append(f"{node.lineno}: st.html")
        for keyword in node.keywords:
            if keyword.arg == "unsafe_allow_html" and not (
                isinstance(keyword.value, ast.Constant) and keyword.value.value is False
            ):
                found.append(f"{node.lineno}: unsafe_allow_html")
    return found


def test_the_scan_finds_raw_html() -> None:
    sample = (
        "import streamlit as st\n"
        "st.html('<b>x</b>')\n"
        "st.markdown(name, unsafe_allow_html=True)\n"
        "st.markdown(name)\n"
        "st.caption(name, unsafe_allow_html=False)\n"
        "CSS = '<style>p {}</style>'\n"
        "st.html(CSS)\n"
        "st.html(f'<b>{name}</b>')\n"
    )
    assert [hit.split(":")[0] for hit in raw_html_calls(sample)] == ["3", "8"]


@pytest.mark.parametrize("path", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_page_renders_raw_html(path: Path) -> None:
    assert raw_html_calls(path.read_text()) == []
