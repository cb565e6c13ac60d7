"""The package boundaries in pyproject.toml hold, and the check would catch a breach of them.

``lint-imports`` (import-linter) reads every import statement, function-local ones included:
layers from pages down to ``core.spec``; nothing the UI process imports reaches TensorFlow,
Keras, keras-tuner or ``core.engine``; only the engine and the worker's serve loop import
them; no Streamlit in ``core``; no import cycles.
"""

from __future__ import annotations

import ast
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LINT = shutil.which("lint-imports")


def _lint(cwd: Path) -> subprocess.CompletedProcess[str]:
    assert LINT, "import-linter is installed by requirements-dev.txt"
    return subprocess.run(
        [LINT, "--no-cache"], cwd=cwd, capture_output=True, text=True, timeout=120
    )


def test_the_import_contracts_hold() -> None:
    done = _lint(ROOT)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert "0 broken" in done.stdout


@pytest.fixture
def copy(tmp_path: Path) -> Path:
    """The project's packages and contracts, in a folder a test may break."""
    for name in ("core", "pages"):
        shutil.copytree(ROOT / name, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


@pytest.mark.parametrize(
    ("module", "line", "contract"),
    [
        ("core/spec/params.py", "import tensorflow", "never loads TensorFlow"),
        ("pages/ui/upload.py", "from core.engine import pipeline", "never loads TensorFlow"),
        ("core/store/paths.py", "from core.worker import launch", "Layers"),
        ("core/views/charts.py", "import streamlit", "imports Streamlit"),
    ],
)
def test_a_breach_is_reported(copy: Path, module: str, line: str, contract: str) -> None:
    path = copy / module
    path.write_text(path.read_text() + f"\n\ndef _late() -> None:\n    {line}\n")
    done = _lint(copy)
    assert done.returncode != 0
    broken = done.stdout[done.stdout.index("Broken contracts") :]
    assert contract in broken


def test_a_function_local_cycle_is_reported(copy: Path) -> None:
    path = copy / "core/spec/catalog.py"
    path.write_text(path.read_text() + "\n\ndef _late() -> None:\n    from core.spec import plan\n")
    done = _lint(copy)
    assert done.returncode != 0 and "No import cycles" in done.stdout.split("Broken")[-1]


def test_app_imports_only_what_the_ui_process_may() -> None:
    # app.py is not a package, so import-linter cannot see it; read its imports here.
    tree = ast.parse((ROOT / "app.py").read_text())
    imported = {
        node.module if isinstance(node, ast.ImportFrom) else alias.name
        for node in ast.walk(tree)
        if isinstance(node, (ast.Import, ast.ImportFrom))
        for alias in node.names
    }
    heavy = {m for m in imported if m and m.split(".")[0] in ("tensorflow", "keras", "keras_tuner")}
    engine = {m for m in imported if m and m.startswith(("core.engine", "core.worker.serve"))}
    assert not heavy and not engine, heavy | engine
