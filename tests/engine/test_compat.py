"""What the app relies on in Keras's and keras-tuner's private names, pinned in one place.

``core.engine.compat`` is the only module in ``core`` that touches them (a scan of ``core``
checks it: import-linter sees an external package as one module, so it cannot tell
``keras.src`` from ``keras``). Each test here states one behaviour relied on, so an upgrade
that changes it fails here, next to the wrapper to fix.
"""

from __future__ import annotations

import ast
import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import grpc
import keras
import keras_tuner as kt
import numpy as np
import pytest

from core.engine import compat

PROJECT_ROOT = Path(__file__).resolve().parents[2]
CORE = PROJECT_ROOT / "core"
COMPAT = CORE / "engine" / "compat.py"
ORACLE_ENV = ("KERASTUNER_ORACLE_IP", "KERASTUNER_ORACLE_PORT", "KERASTUNER_TUNER_ID")


def _tiny_model(hp: kt.HyperParameters) -> keras.Model:
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(hp.Choice("units", [1, 2]))])
    model.compile("sgd", "mse")
    return model


def _tiny_data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    return rng.random((8, 2), dtype=np.float32), rng.random((8, 1), dtype=np.float32)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# ---------------------------------------------------------------------------------------------
# Keras
# ---------------------------------------------------------------------------------------------


def test_importing_compat_loads_no_keras() -> None:
    # keras_home must be able to set KERAS_HOME before Keras's first import.
    code = "import core.engine.compat, sys; assert 'keras' not in sys.modules, 'keras'"
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=PROJECT_ROOT, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr[-2000:]


def test_keras_home_redirects_get_file_and_then_restores_it(tmp_path: Path) -> None:
    from keras.src.backend import config as keras_config  # what keras_home changes

    before = keras_config.keras_home()
    source = tmp_path / "source.txt"
    source.write_text("pixels")
    home = tmp_path / "home"
    home.mkdir()  # get_file falls back to /tmp/.keras for a folder it cannot write to
    with compat.keras_home(str(home)):
        inside = keras.utils.get_file("data.txt", origin=source.as_uri())
    assert Path(inside) == home / "datasets" / "data.txt"  # where every load_data looks
    assert Path(inside).read_text() == "pixels"
    assert keras_config.keras_home() == before


def test_keras_home_is_set_before_keras_is_first_imported(tmp_path: Path) -> None:
    code = (
        "import sys, os; from core.engine import compat\n"
        "with compat.keras_home(sys.argv[1]):\n"
        "    import keras\n"
        "    assert os.environ['KERAS_HOME'] == sys.argv[1]\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "KERAS_HOME"}
    result = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path / "keras")],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        env=env,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert (tmp_path / "keras" / "keras.json").exists()  # Keras's own config lives there too


def test_translation_matrix_of_a_known_shift() -> None:
    layer = keras.layers.RandomTranslation(0.5, 0.5)
    shift = np.array([[3.0, -2.0]], dtype=np.float32)  # x by 3 pixels, y by -2
    matrix = keras.ops.convert_to_numpy(compat.translation_matrix(layer, shift))
    np.testing.assert_allclose(matrix, [[1, 0, -3, 0, 1, 2, 0, 0]])


def test_zoom_matrix_of_a_known_zoom() -> None:
    layer = keras.layers.RandomZoom(0.5)
    zooms = np.array([[0.5, 0.25]], dtype=np.float32)  # width, then height
    matrix = keras.ops.convert_to_numpy(compat.zoom_matrix(layer, zooms, 9, 5))
    # Output pixel (x, y) reads input (0.5 x + 1, 0.25 y + 3): zoomed about the centre.
    np.testing.assert_allclose(matrix, [[0.5, 0, 1, 0, 0.25, 3, 0, 0]])


def _resampled(layer: keras.layers.Layer, images: np.ndarray, matrix: object) -> np.ndarray:
    return keras.ops.convert_to_numpy(
        keras.ops.image.affine_transform(
            images,
            matrix,
            interpolation=layer.interpolation,
            fill_mode=layer.fill_mode,
            fill_value=layer.fill_value,
        )
    )


def test_the_matrices_are_what_the_layers_resample_with() -> None:
    images = np.random.default_rng(0).random((4, 9, 7, 1), dtype=np.float32) * 255
    shift = keras.layers.RandomTranslation(0.3, 0.3, fill_mode="nearest", seed=1)
    drawn = shift.get_random_transformation(images, training=True)
    np.testing.assert_allclose(
        _resampled(shift, images, compat.translation_matrix(shift, drawn["translations"])),
        keras.ops.convert_to_numpy(shift.transform_images(images, drawn, training=True)),
        atol=1e-4,
    )
    zoom = keras.layers.RandomZoom(0.3, fill_mode="nearest", seed=2)
    drawn = zoom.get_random_transformation(images, training=True)
    zooms = keras.ops.concatenate([drawn["width_zoom"], drawn["height_zoom"]], axis=1)
    matrix = compat.zoom_matrix(zoom, keras.ops.cast(zooms, "float32"), 9, 7)
    np.testing.assert_allclose(
        _resampled(zoom, images, matrix),
        keras.ops.convert_to_numpy(zoom.transform_images(images, drawn, training=True)),
        atol=1e-4,
    )


def test_learning_rate_schedule_is_the_optimizers_own() -> None:
    schedule = keras.optimizers.schedules.ExponentialDecay(0.1, decay_steps=1, decay_rate=0.5)
    assert compat.learning_rate_schedule(keras.optimizers.SGD(schedule)) is schedule
    assert compat.learning_rate_schedule(keras.optimizers.SGD(0.1)) is None


# ---------------------------------------------------------------------------------------------
# keras-tuner
# ---------------------------------------------------------------------------------------------


def test_checkpoint_path_is_the_file_keras_tuner_writes_and_loads(tmp_path: Path) -> None:
    tuner = kt.RandomSearch(
        _tiny_model, objective="loss", max_trials=1, directory=tmp_path, project_name="p"
    )
    tuner.search(*_tiny_data(), epochs=1, verbose=0)
    (trial,) = tuner.oracle.get_best_trials(1)
    path = compat.checkpoint_path(tuner, trial.trial_id)
    assert path.is_file() and path.parent == Path(tuner.get_trial_dir(trial.trial_id))
    model = tuner.load_model(trial)
    assert any(np.any(w != 0) for w in model.get_weights())
    model.set_weights([np.zeros_like(w) for w in model.get_weights()])
    model.save_weights(path)  # load_model reads exactly that file
    assert all(np.all(w == 0) for w in tuner.load_model(trial).get_weights())
    assert not compat.checkpoint_path(tuner, "never-run").is_file()


def test_tuner_still_has_the_override_points() -> None:
    compat.check_tuner_overrides()
    assert set(compat.tuner_hooks(len, len)) == set(compat.TUNER_OVERRIDES)


class _Counting:
    """A mixin that plugs into the override points through compat and counts the calls."""

    spaces = 0
    fits: list[dict] = []

    def populate(self) -> None:
        _Counting.spaces += 1
        hp = self.oracle.get_space()
        hp.Choice("units", [1, 2])
        self.oracle.update_space(hp)

    def build_and_fit(self, trial: kt.engine.trial.Trial, *args: object, **kwargs: object):  # noqa: ANN201
        _Counting.fits.append(dict(kwargs))
        return compat.base_build_and_fit(_Counting, self, trial, *args, **kwargs)


def test_the_hooks_declare_the_space_once_and_fit_every_execution(tmp_path: Path) -> None:
    hooks = compat.tuner_hooks(_Counting.build_and_fit, _Counting.populate)
    cls = type("CountingSearch", (_Counting, kt.RandomSearch), hooks)
    _Counting.spaces, _Counting.fits = 0, []
    common = {"objective": "loss", "max_trials": 1, "directory": tmp_path, "project_name": "p"}
    tuner = cls(_tiny_model, executions_per_trial=2, **common)
    assert _Counting.spaces == 1 and tuner.oracle.get_space().values == {"units": 1}
    tuner.search(*_tiny_data(), epochs=2, verbose=0)
    assert len(_Counting.fits) == 2  # one call per execution, each given the callbacks
    assert all(isinstance(f.get("callbacks"), list) and f["epochs"] == 2 for f in _Counting.fits)
    (trial,) = tuner.oracle.get_best_trials(1)
    assert trial.score is not None and np.isfinite(trial.score)  # the histories were scored
    cls(_tiny_model, executions_per_trial=2, **common)  # reloading the project
    assert _Counting.spaces == 1


class _Recording:
    """A mixin for an oracle: records the trials updated, then lets the oracle update them."""

    def attach(self) -> None:
        self.updated: list[str] = []

    def update_trial(self, trial_id: str, metrics: dict, step: int = 0) -> object:
        self.updated.append(trial_id)
        return super().update_trial(trial_id, metrics, step=step)


def test_mixing_into_an_oracle_keeps_its_state_and_reaches_its_methods(tmp_path: Path) -> None:
    tuner = kt.RandomSearch(
        _tiny_model, objective="loss", max_trials=2, directory=tmp_path, project_name="p"
    )
    oracle = tuner.oracle
    trial = oracle.create_trial("t0")
    before = json.dumps(oracle.get_state(), sort_keys=True)
    base = type(oracle)
    mixed = compat.mix_into(oracle, _Recording, "Recording")
    assert mixed is oracle and tuner.oracle is oracle
    assert type(oracle).__name__ == f"Recording{base.__name__}"
    assert isinstance(oracle, base) and isinstance(oracle, _Recording)
    assert json.dumps(oracle.get_state(), sort_keys=True) == before
    assert oracle.ongoing_trials["t0"] is trial
    oracle.attach()
    oracle.update_trial(trial.trial_id, {"loss": 0.25}, step=0)
    assert oracle.updated == [trial.trial_id]
    assert oracle.trials[trial.trial_id].metrics.get_best_value("loss") == 0.25


@pytest.fixture
def chief(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[kt.Tuner, int]]:
    """A real chief oracle (one trial) served on 127.0.0.1 by keras-tuner, in a thread."""
    port = _free_port()
    for name, value in zip(ORACLE_ENV, ("127.0.0.1", str(port), "chief"), strict=True):
        monkeypatch.setenv(name, value)
    tuner = kt.RandomSearch(
        _tiny_model, objective="loss", max_trials=1, directory=tmp_path, project_name="chief"
    )
    serving = threading.Thread(target=tuner.search, name="chief", daemon=True)
    serving.start()
    deadline = time.monotonic() + 60
    while True:  # keras-tuner has read its environment once its port answers
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            assert time.monotonic() < deadline, "the chief never listened"
            time.sleep(0.1)
    yield tuner, port
    serving.join(timeout=30)  # the chief ends once it has handed out its STOPPED trial
    assert not serving.is_alive()


def test_a_joined_tuner_reports_through_an_oracle_client_to_the_chief(
    chief: tuple[kt.Tuner, int], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    chief_tuner, port = chief
    monkeypatch.setenv("KERASTUNER_TUNER_ID", "worker0")
    worker = kt.RandomSearch(
        _tiny_model, objective="loss", max_trials=1, directory=tmp_path, project_name="w"
    )
    trial = worker.oracle.create_trial("worker0")
    assert trial.status == kt.engine.trial.TrialStatus.RUNNING
    asked = compat.chief_trial("127.0.0.1", port, trial.trial_id, timeout_s=30)
    assert asked.trial_id == trial.trial_id
    assert asked.hyperparameters.values == trial.hyperparameters.values
    worker.oracle.update_trial(trial.trial_id, {"loss": 0.5}, step=3)
    on_chief = chief_tuner.oracle.trials[trial.trial_id]
    assert on_chief.metrics.get_history("loss")[-1].step == 3
    assert on_chief.metrics.get_best_value("loss") == 0.5
    trial.status = kt.engine.trial.TrialStatus.COMPLETED
    worker.oracle.end_trial(trial)
    assert chief_tuner.oracle.trials[trial.trial_id].status == "COMPLETED"
    assert worker.oracle.create_trial("worker0").status == "STOPPED"  # lets the chief end


def test_an_oracles_project_dir_is_where_its_tuner_put_it(tmp_path: Path) -> None:
    oracle = kt.oracles.RandomSearchOracle(kt.Objective("val_accuracy", "max"), max_trials=1)
    oracle._set_project_dir(str(tmp_path), "search")
    assert compat.project_dir(oracle) == tmp_path / "search"


def test_optuna_trials_reported_through_a_handle_and_their_bracket_as_the_pruner_sees_it() -> None:
    import optuna

    study = optuna.create_study(
        direction="maximize",
        pruner=optuna.pruners.HyperbandPruner(min_resource=1, max_resource=9, reduction_factor=3),
    )
    for value in (0.9, 0.5):
        asked = study.ask()
        (frozen,) = study.get_trials(states=(optuna.trial.TrialState.RUNNING,))
        handle = compat.running_optuna_trial(study, frozen)
        assert handle.number == asked.number
        handle.report(value, 1)
        pruned = handle.should_prune()
        record, bracket, mates = compat.pruner_bracket(study, handle)
        assert record.number == asked.number and record.intermediate_values == {1: value}
        assert 0 <= bracket < 3  # log3(9) + 1 brackets
        assert asked.number in {t.number for t in mates}
        study.tell(asked.number, state=optuna.trial.TrialState.PRUNED if pruned else None,
                   values=None if pruned else value)  # fmt: skip


def test_chief_trial_gives_up_after_its_timeout_when_no_chief_listens() -> None:
    start = time.monotonic()
    with pytest.raises(grpc.RpcError) as caught:
        compat.chief_trial("127.0.0.1", _free_port(), "0", timeout_s=0.5)
    assert caught.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    assert time.monotonic() - start < 10


# ---------------------------------------------------------------------------------------------
# Nowhere else in core
# ---------------------------------------------------------------------------------------------

PRIVATE_PREFIXES = ("keras.src.", "keras_tuner.src.")
# The Keras and keras-tuner classes core subclasses or mixes into: a private method of theirs
# defined or called through super() in core is an override of a private name.
BASES = (
    keras.Model,
    keras.layers.Layer,
    keras.callbacks.BackupAndRestore,
    keras.optimizers.Optimizer,
    keras.optimizers.schedules.LearningRateSchedule,
    keras.random.SeedGenerator,
    keras.metrics.F1Score,
    kt.HyperModel,
    kt.Oracle,
    *(getattr(kt.tuners, n) for n in dir(kt.tuners) if not n.startswith("_")),
    *(getattr(kt.oracles, n) for n in dir(kt.oracles) if not n.startswith("_")),
)


def _is_private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def _private_on_bases() -> set[str]:
    return {n for base in BASES for n in dir(base) if _is_private(n)}


def _root(node: ast.expr) -> ast.expr:
    while isinstance(node, ast.Attribute | ast.Subscript):
        node = node.value
    return node


def _imports(tree: ast.Module) -> dict[str, str]:
    """Each name a module binds by an import, to the dotted module or object it names."""
    names: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                names[alias.asname or alias.name.split(".")[0]] = alias.name
        elif isinstance(node, ast.ImportFrom) and node.module:
            for alias in node.names:
                names[alias.asname or alias.name] = f"{node.module}.{alias.name}"
    return names


def _defined(trees: list[ast.Module]) -> set[str]:
    """The private names core defines itself: functions, classes, its own attributes, globals."""
    names: set[str] = set()
    for tree in trees:
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                names.add(node.name)
            elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                names.add(node.id)
            elif (
                isinstance(node, ast.Attribute)
                and isinstance(node.ctx, ast.Store)
                and isinstance(node.value, ast.Name)
                and node.value.id in ("self", "cls")
            ):
                names.add(node.attr)
    return {n for n in names if _is_private(n)}


def private_uses(tree: ast.Module, defined: set[str], on_bases: set[str]) -> list[str]:
    """What one module of core uses of Keras's and keras-tuner's private names.

    Args:
        tree: The module's syntax tree.
        defined: Private names core defines itself (its own, not a library's).
        on_bases: Private names of the Keras and keras-tuner classes core builds on.

    Returns:
        ``line: what`` for each use found.
    """
    found: list[str] = []
    imported = _imports(tree)
    keras_names = {k for k, v in imported.items() if v.split(".")[0] in ("keras", "keras_tuner")}

    def flag(node: ast.AST, what: str) -> None:
        found.append(f"{node.lineno}: {what}")

    for node in ast.walk(tree):
        if isinstance(node, ast.Import | ast.ImportFrom):
            if isinstance(node, ast.Import):
                modules = [a.name for a in node.names]
            else:  # ``from keras import src`` names the package too
                modules = [node.module or "", *(f"{node.module}.{a.name}" for a in node.names)]
            private = [m for m in modules if f"{m}.".startswith(PRIVATE_PREFIXES)]
            if private:
                flag(node, f"import {private[0]}")
        elif isinstance(node, ast.Attribute):
            root = _root(node.value)
            if node.attr == "src" and isinstance(root, ast.Name) and root.id in keras_names:
                flag(node, ast.unparse(node))
            elif node.attr == "__class__" and isinstance(node.ctx, ast.Store):
                flag(node, f"{ast.unparse(node)} = ...")
            elif not _is_private(node.attr):
                continue
            elif isinstance(root, ast.Call) and ast.unparse(root.func) == "super":
                if node.attr in on_bases:
                    flag(node, ast.unparse(node))
            elif isinstance(root, ast.Name) and root.id in imported and root.id not in keras_names:
                continue  # another library's module, or core's own
            elif node.attr not in defined:
                flag(node, ast.unparse(node))
        elif isinstance(node, ast.Call) and ast.unparse(node.func) in (
            "getattr",
            "setattr",
            "hasattr",
            "delattr",
        ):
            arg = node.args[1] if len(node.args) > 1 else None
            name = arg.value if isinstance(arg, ast.Constant) else None
            if isinstance(name, str) and _is_private(name) and name not in defined:
                flag(node, ast.unparse(node))
        elif isinstance(node, ast.ClassDef):
            for item in node.body:
                if isinstance(item, ast.FunctionDef) and item.name in on_bases:
                    flag(item, f"def {node.name}.{item.name}")
    return found


def _trees(paths: list[Path]) -> dict[Path, ast.Module]:
    return {p: ast.parse(p.read_text(), filename=str(p)) for p in paths}


def test_only_compat_touches_private_keras_and_keras_tuner_names() -> None:
    trees = _trees(sorted(p for p in CORE.rglob("*.py") if p != COMPAT))
    defined, on_bases = _defined(list(trees.values())), _private_on_bases()
    found = {
        str(path.relative_to(PROJECT_ROOT)): uses
        for path, tree in trees.items()
        if (uses := private_uses(tree, defined, on_bases))
    }
    assert not found, f"private Keras / keras-tuner names outside core/engine/compat.py: {found}"


@pytest.mark.parametrize(
    "code",
    [
        "from keras.src.backend import config",
        "import keras_tuner.src.protos",
        "from keras_tuner.src import protos",
        "from keras import src",
        "import keras\nkeras.src.utils.file_utils",
        "def f(layer):\n    return layer._get_translation_matrix(1)",
        "def f(model):\n    model._initial_epoch = 0",
        "def f(opt):\n    return getattr(opt, '_learning_rate', None)",
        "def f(oracle, cls):\n    oracle.__class__ = cls",
        "class T:\n    def f(self):\n        return super()._try_build(1)",
        "class T:\n    def _try_build(self, hp):\n        return hp",
    ],
)
def test_the_scan_finds_each_kind_of_private_use(code: str) -> None:
    assert private_uses(ast.parse(code), set(), _private_on_bases())


def test_the_scan_leaves_core_own_privates_and_other_libraries_alone() -> None:
    code = (
        "import argparse\n"
        "class Box:\n"
        "    def __init__(self):\n"
        "        self._items = []\n"
        "    def _add(self, x):\n"
        "        self._items.append(x)\n"
        "def f(box):\n"
        "    box._add(1)\n"
        "    return argparse._SubParsersAction, box._items\n"
    )
    tree = ast.parse(code)
    assert private_uses(tree, _defined([tree]), _private_on_bases()) == []
