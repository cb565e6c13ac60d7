"""A disk that fills while a run saves: one line, no half-written files, no crash.

The run folders' root (``cache/runs``) is a small tmpfs, mounted for the test: big enough for
the store's marker and a run's TensorBoard logs, too small for the model a run saves or for a
checkpoint. Real training in a real command or worker process fills it. Mounting needs root;
without it these tests are skipped.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from core.spec.config import RunConfig
from core.store import Status, Store, StoreError, paths
from core.store.checkpoint_files import CAP_ENV
from core.store.errors import StoreFull
from core.worker.launch import IDLE_ENV
from tests.worker.test_worker import log_lines

pytestmark = pytest.mark.faults

ROOT = Path(__file__).resolve().parents[2]
# TensorFlow's own start-up lines (absl and glog style), which TF_CPP_MIN_LOG_LEVEL does not
# silence in the child; everything else on stderr is the command's.
TF_LINE = re.compile(r"^([IWEF]\d{4} \S+ +\d+ \S+:\d+\] |WARNING: All log messages before absl)")
# Names of a run's saved files, and of the temporary ones its writers use.
SAVED = ("model.keras", "model.weights.h5", "config.json", "misclassified.png")


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Callable[[Path, str], Path]]:
    """Mount a tmpfs of a given size at a folder (``mount(folder, "400k")``); unmount after."""
    mounted: list[Path] = []

    def mount(folder: Path, size: str) -> Path:
        if os.geteuid() != 0:
            pytest.skip("mounting a small tmpfs needs root")
        folder.mkdir(parents=True, exist_ok=True)
        done = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)],
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
        mounted.append(folder)
        return folder

    try:
        yield mount
    finally:
        for folder in reversed(mounted):
            subprocess.run(["umount", "-l", str(folder)], check=False)


def _own_lines(stderr: str) -> list[str]:
    return [line for line in stderr.strip().splitlines() if not TF_LINE.match(line)]


def _leftovers(runs: Path) -> list[str]:
    """Saved or half-written files under ``runs`` (logs and the marker are fine)."""
    return sorted(
        str(p.relative_to(runs))
        for p in runs.rglob("*")
        if p.is_file() and (p.name in SAVED or ".part" in p.name or p.suffix == ".tmp")
    )


def test_a_command_whose_model_does_not_fit_says_so_in_one_line_and_exits_1(
    store: Store, cache: Path, small_disk: Callable[[Path, str], Path]
) -> None:
    # 400 KB holds the mlp's model.keras (260 KB) but not its weights file beside it: the
    # write that used to crash the process (SIGSEGV, status 139) as HDF5 tried to close it.
    runs = small_disk(paths.runs_dir(cache), "400k")
    env = {**os.environ, CAP_ENV: "0"}  # no checkpoints: the model save is what fills it
    done = subprocess.run(
        [sys.executable, "-m", "core", "train", "--set", "model=mlp", "--epochs", "2"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=180, check=False,
    )  # fmt: skip

    assert "Traceback" not in done.stderr, done.stderr[-3000:]
    assert done.returncode == 1, (done.returncode, done.stderr[-3000:])
    lines = _own_lines(done.stderr)
    assert len(lines) == 1, done.stderr[-3000:]
    (line,) = lines
    (trial,) = store.trials()
    folder = runs / str(trial.study_id) / str(trial.id)
    assert line.startswith(f"error: Not enough disk space to save the model in {folder}: ")
    assert re.search(r"it needs about \d+\.\d MB and \d+\.\d MB is free\. Free some space", line)
    assert trial.status == Status.FAILED and trial.error == line.removeprefix("error: ")
    assert len(store.epochs(trial.id)) == 2  # the epochs trained are kept
    assert _leftovers(runs) == []
    assert "model.keras" not in trial.results.get("artifacts", {})


def test_a_worker_fails_the_trial_whose_checkpoint_does_not_fit_and_runs_the_next(
    store: Store, cache: Path, small_disk: Callable[[Path, str], Path]
) -> None:
    # The mlp's checkpoint is about 230 KB; a tiny mlp's checkpoints and model take 120 KB.
    runs = small_disk(paths.runs_dir(cache), "192k")
    _, (big,) = store.create_study("big", "single", [RunConfig(model="mlp", epochs=2)])
    tiny = RunConfig(model="mlp", epochs=2, dense_units=8)
    _, (small,) = store.create_study("small", "single", [tiny])
    done = subprocess.run(
        [sys.executable, "-m", "core.worker", "--cache", str(cache)],
        cwd=ROOT, env={**os.environ, IDLE_ENV: "1"}, capture_output=True, text=True,
        timeout=180, check=False,
    )  # fmt: skip

    assert done.returncode == 0, done.stderr[-3000:]
    failed, finished = store.trial(big), store.trial(small)
    folder = runs / str(failed.study_id) / str(failed.id) / "checkpoints"
    assert failed.status == Status.FAILED
    assert failed.error.startswith(
        f"Not enough disk space to save the checkpoint of epoch 1 in {folder}: it needs about "
    ), failed.error
    assert finished.status == Status.COMPLETED, finished.error
    assert Path(finished.results["artifacts"]["model"]).is_file()
    assert _leftovers(runs / str(failed.study_id)) == []
    # The log says how the trial ended, in the worker's own words, and nothing crashed.
    warned = [m for _, level, _, m in log_lines(done.stderr) if level == "WARNING"]
    assert warned == [f"trial {big}: failed in {failed.finished_at - failed.started_at:.1f} s: "
                      f"{failed.error}"]  # fmt: skip
    assert "Traceback" not in done.stderr


def test_a_store_on_a_full_disk_refuses_a_write_in_one_line(
    cache: Path, tmp_path: Path, small_disk: Callable[[Path, str], Path]
) -> None:
    disk = small_disk(tmp_path / "disk", "512k")
    store = Store(paths.store_path(disk))
    store.create_study("kept", "single", [RunConfig()])
    # Leave less room than a few studies take: SQLite reports SQLITE_FULL.
    (disk / "filler").write_bytes(b"x" * (shutil.disk_usage(disk).free - 64 * 1024))

    with pytest.raises(StoreFull, match=r"Not enough disk space to write to the store") as got:
        for _ in range(100):
            store.create_study("x" * 2000, "single", [RunConfig()] * 5)
    assert isinstance(got.value, StoreError) and "\n" not in got.value.message
    assert str(store.path) in got.value.message and "nothing was changed" in got.value.message
    # What was there still reads (the studies that fitted before the disk filled, too).
    assert min(store.studies(), key=lambda study: study.id).name == "kept"


def test_tensorboard_logs_on_a_full_disk_stop_the_fit_with_one_line(
    tmp_path: Path, small_disk: Callable[[Path, str], Path]
) -> None:
    import keras
    import numpy as np

    from core.engine import run_logs
    from core.store.disk_space import DiskFull

    disk = small_disk(tmp_path / "disk", "64k")
    (disk / "filler").write_bytes(b"x" * shutil.disk_usage(disk).free)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    model.compile(optimizer="sgd", loss="mse")
    logs = disk / "logs"

    with pytest.raises(DiskFull, match="to save the TensorBoard logs in") as got:
        model.fit(np.ones((8, 4)), np.ones((8, 2)), epochs=1, verbose=0,
                  callbacks=[run_logs.tensorboard_callback(logs)])  # fmt: skip
    assert got.value.folder == logs and "0.0 MB is free" in got.value.message
