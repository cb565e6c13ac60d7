"""Nothing a person supplies is ever unpickled: the code that reads their files has no call that
could run code hidden in a file (pickle, joblib.load, np.load with allow_pickle, an unsafe
.keras load)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

pytestmark = pytest.mark.faults

ROOT = Path(__file__).resolve().parents[2]
SOURCES = sorted([ROOT / "app.py", *(ROOT / "core").rglob("*.py"), *(ROOT / "pages").rglob("*.py")])
# Calls that deserialize code-bearing objects, by the last two parts of their dotted name.
FORBIDDEN = {
    ("pickle", "load"),
    ("pickle", "loads"),
    ("pickle", "Unpickler"),
    ("joblib", "load"),
    ("dill", "load"),
    ("dill", "loads"),
    ("shelve", "open"),
    ("marshal", "loads"),
    ("config", "enable_unsafe_deserialization"),
}


def _dotted(node: ast.expr) -> tuple[str, ...]:
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
    return tuple(reversed(parts))


def _is_keras(name: tuple[str, ...]) -> bool:
    """Keras's own loaders (``keras.saving.load_model``, ``models.load_model``, ...), not a
    method of the same name on another object (keras-tuner's ``tuner.load_model(trial)``
    reads the tuner's own checkpoint)."""
    return any(part in ("keras", "saving", "models") for part in name[:-1])


def _keyword(call: ast.Call, name: str) -> ast.expr | None:
    return next((k.value for k in call.keywords if k.arg == name), None)


def unsafe_calls(source: str) -> list[str]:
    """Every call in ``source`` that could unpickle or deserialize code, as 'line: what'."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call):
            continue
        name = _dotted(node.func)
        if name[-2:] in FORBIDDEN:
            found.append(f"{node.lineno}: {'.'.join(name)}")
        elif name[-1:] == ("load",) and name[-2:-1] in (("np",), ("numpy",)):
            allow = _keyword(node, "allow_pickle")
            if isinstance(allow, ast.Constant) and allow.value is True:
                found.append(f"{node.lineno}: np.load(allow_pickle=True)")
        elif name[-1:] == ("load_model",) and (len(name) == 1 or _is_keras(name)):
            safe = _keyword(node, "safe_mode")
            if not (isinstance(safe, ast.Constant) and safe.value is True):
                found.append(f"{node.lineno}: load_model without safe_mode=True")
    return found


def test_the_scan_finds_each_kind_of_unsafe_call() -> None:
    sample = (
        "import pickle, joblib, numpy as np, keras\n"
        "pickle.loads(b'')\n"
        "joblib.load('x')\n"
        "np.load('x', allow_pickle=True)\n"
        "keras.models.load_model('m.keras')\n"
        "keras.saving.load_model('m.keras', safe_mode=False)\n"
        "keras.config.enable_unsafe_deserialization()\n"
        "np.load('x')\n"
        "keras.saving.load_model('m.keras', safe_mode=True)\n"
        "load_model('m.keras')\n"
        "tuner.load_model(trial)\n"
    )
    hits = [hit.split(":")[0] for hit in unsafe_calls(sample)]
    assert hits == ["2", "3", "4", "5", "6", "7", "10"]


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_module_unpickles_or_loads_a_model_unsafely(path: Path) -> None:
    assert unsafe_calls(path.read_text()) == []
