"""The standalone ``train.py``: it runs without the app and repeats the run's test accuracy."""

from __future__ import annotations

import ast
import json
import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from core.handover.export_script import export_script
from core.spec.config import RunConfig
from core.store import Status, Store

# Settings beyond the defaults, so the script has to get the schedule, smoothing (one-hot
# labels), augmentation, the penalty and the device settings right, not only the plain path.
EXPORTED = RunConfig(
    model="cnn",
    epochs=3,
    augment=("rotation:10",),
    lr_schedule="cosine",
    label_smoothing=0.1,
    l2=1e-4,
    precision="mixed_bfloat16",
    jit_compile="off",
    steps_per_execution=4,
)


def test_the_exported_script_reaches_the_stored_test_accuracy_on_its_own(
    store: Store, cache: Path, tmp_path: Path
) -> None:
    from core.engine.training import TrialMonitor, run_trial

    _, (tid,) = store.create_study("cnn on digits", "single", [EXPORTED], reserve_for=1)
    with TrialMonitor(store, tid) as monitor:
        run_trial(store, store.trial(tid), monitor, cache)
    trial = store.trial(tid)
    assert trial.status == Status.COMPLETED, trial.error

    folder = tmp_path / "elsewhere"
    folder.mkdir()
    (folder / "train.py").write_text(export_script(trial.run_config, f"run {tid}"))
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "HPE_CACHE_DIR")}
    done = subprocess.run(
        [sys.executable, "-I", "train.py"],  # -I: isolated, neither cwd nor PYTHONPATH on path
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    last = done.stdout.strip().splitlines()[-1]
    found = re.fullmatch(r"test_accuracy=(\d\.\d{4}) test_loss=(\d+\.\d{4})", last)
    assert found, last
    assert abs(float(found[1]) - trial.test_accuracy) <= 0.02
    with zipfile.ZipFile(folder / "model.keras") as saved:
        model = json.loads(saved.read("config.json"))
    policies = {layer["name"]: layer["config"]["dtype"] for layer in model["config"]["layers"]}
    assert policies["output"]["config"]["name"] == "float32"
    assert policies["conv1"]["config"]["name"] == "mixed_bfloat16"
    compiled = model["compile_config"]
    # 18 batches an epoch: at most 4 a call is 3, as in the app.
    assert (compiled["jit_compile"], compiled["steps_per_execution"]) == (False, 3)


@pytest.mark.parametrize("model", ["cnn", "resnet", "mlp", "transfer"])
def test_every_model_kind_gives_a_script_that_imports_nothing_of_the_app(model: str) -> None:
    if model == "transfer":
        cfg = RunConfig(
            model=model, dataset="cifar10", pretrained="none", img_size=71, backbone="xception"
        )
    else:
        cfg = RunConfig(model=model, normalization="standardize", warmup_epochs=1)
    text = export_script(cfg, "run 1")
    tree = ast.parse(text)
    imported = {
        alias.name.split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
    } | {
        node.module.split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.module
    }
    assert imported <= {"math", "keras", "numpy", "tensorflow", "sklearn"}
    assert f'"model": "{model}"' in text and "def network(" in text
    assert "test_accuracy=" in text


def test_settings_the_script_does_not_reproduce_are_named_at_its_top() -> None:
    cfg = RunConfig(folds=3, lr_schedule="reduce_on_plateau", warmup_epochs=2)
    docstring = ast.get_docstring(ast.parse(export_script(cfg, "run 4")))
    assert docstring is not None and "run 4" in docstring
    assert "folds=3" in docstring and "warmup_epochs=2" in docstring
    plain = ast.get_docstring(ast.parse(export_script(RunConfig(), "run 5")))
    assert plain is not None and "folds=" not in plain and "warmup_epochs" not in plain


def test_names_people_typed_cannot_break_the_script() -> None:
    source = 'run 9 (study 2, \'end """ here \\ and a very long name that goes on and on\')'
    text = export_script(RunConfig(), source)
    docstring = ast.get_docstring(ast.parse(text))
    assert docstring is not None and '"""' in docstring and "\\ and" in docstring
    assert max(len(line) for line in text.splitlines()) <= 100


def test_a_folder_script_sets_aside_the_test_images_its_run_did(tmp_path: Path) -> None:
    from tests.data.test_folders import class_members, write_folder

    small = write_folder(tmp_path / "small", class_members(per_class=6))
    cfg = RunConfig(dataset=str(small), model="mlp")
    text = export_script(cfg, "run 1")
    ast.parse(text)
    assert "\nN_TEST = 0\n" in text  # too small for a test set: validation scores the run
    assert "val_accuracy=" in text and "if not N_TEST:" in text
    # A run recorded under an earlier rule keeps the test images it was scored on.
    recorded = {"sizes": {"train": 12, "validation": 2, "test": 4}}
    assert "\nN_TEST = 4\n" in export_script(cfg, "run 1", recorded=recorded)
