"""The memory estimate of one training step, and the refusal it leads to."""

from __future__ import annotations

from pathlib import Path

import keras
import pytest

from core.data.checks import train_size
from core.engine.memory_guard import MEMORY_ENV, check_step_fits, headroom_bytes, step_bytes
from core.engine.training import TrialMonitor, run_trial
from core.spec.config import ConfigError, RunConfig
from core.store import Status, Store, paths


def _mlp() -> keras.Model:
    inputs = keras.Input((100,))
    hidden = keras.layers.Dense(50)(inputs)
    return keras.Model(inputs, keras.layers.Dense(10)(hidden))


def test_the_estimate_counts_activations_gradients_and_optimizer_copies() -> None:
    model = _mlp()
    per_sample = 100 + 50 + 10  # the input, then each layer's output
    params = 100 * 50 + 50 + 50 * 10 + 10
    assert step_bytes(model, 32) == 2 * per_sample * 32 * 4 + 4 * params * 4
    # Activations grow with the batch; the weights' share does not.
    assert step_bytes(model, 64) - step_bytes(model, 32) == 2 * per_sample * 32 * 4


def test_a_nested_model_is_counted_inside() -> None:
    inner = _mlp()
    inputs = keras.Input((100,))
    outer = keras.Model(inputs, keras.layers.Dense(3)(inner(inputs)))
    assert step_bytes(outer, 8) > step_bytes(inner, 8)


def test_a_step_over_the_cap_is_refused_naming_batch_size(
    store: Store, cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(MEMORY_ENV, "100000")  # 100 GB: everything fits
    check_step_fits(_mlp(), 1_000)

    # Full-batch on digits blown up to 128x128: the CNN's activations alone need gigabytes a
    # step. The cap leaves this process 1 GiB more than it holds now: room to load the data
    # and build the model, far from room for the step.
    huge = RunConfig(img_size=128, epochs=1)
    huge = huge.replace(batch_size=train_size(huge))
    headroom, _ = headroom_bytes()
    held_mib = 100000 - headroom / 2**20
    monkeypatch.setenv(MEMORY_ENV, str(held_mib + 1024))
    _, (tid,) = store.create_study("full batch", "single", [huge], reserve_for=1)
    with TrialMonitor(store, tid) as monitor:
        status = run_trial(store, store.trial(tid), monitor, cache)

    trial = store.trial(tid)
    assert status == Status.FAILED == trial.status
    assert trial.error.startswith(f"One training step at batch_size {huge.batch_size} needs")
    assert "use a batch_size of at most" in trial.error and MEMORY_ENV in trial.error
    assert trial.traceback is None  # a message for a person, not a crash
    # Refused before fit: no epoch, no batch, nothing saved.
    assert store.epochs(tid) == [] and trial.results == {}
    assert not (paths.runs_dir(cache) / str(trial.study_id) / str(tid) / "model.keras").exists()


def test_a_cap_below_what_the_worker_holds_refuses_any_step(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    model = _mlp()
    monkeypatch.setenv(MEMORY_ENV, "1")  # 1 MiB, less than this process already holds
    with pytest.raises(ConfigError, match="batch_size 1000 needs about") as caught:
        check_step_fits(model, 1_000)
    assert caught.value.field == "batch_size" and "0.0 MiB is free" in caught.value.message


def test_the_message_says_what_fits(monkeypatch: pytest.MonkeyPatch) -> None:
    from core.engine import memory_guard

    model = _mlp()
    monkeypatch.setattr(memory_guard, "_rss_bytes", lambda: 0)
    monkeypatch.setenv(MEMORY_ENV, "1")  # 1 MiB for the whole worker
    with pytest.raises(ConfigError) as caught:
        check_step_fits(model, 100_000)  # 2 * 160 * 100000 * 4 bytes = 122 MiB
    assert caught.value.field == "batch_size"
    assert "at most" in caught.value.message
    fits = int(caught.value.message.split("at most ")[1].split(".")[0])
    assert step_bytes(model, fits) <= 2**20 < step_bytes(model, 100_000)


def test_what_the_pipeline_holds_counts_and_a_folder_is_not_counted_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from PIL import Image

    from core.engine import batches, memory_guard
    from core.engine.loading.datasets import load_splits

    for label in range(2):
        (tmp_path / "jelly" / f"c{label}").mkdir(parents=True)
        for i in range(10):
            Image.new("RGB", (16, 16), (label * 99, i, 0)).save(
                tmp_path / "jelly" / f"c{label}/{i}.png"
            )
    files = load_splits(str(tmp_path / "jelly"), 0.2, 0, tmp_path / "cache", img_size=16).x_train
    # A small split is read through one window the size of the split, plus the prefetch.
    image = 16 * 16 * 3
    window = batches.WINDOW_COPIES * len(files)
    assert batches.held_bytes(files, 4, False) == (window + 4 * batches.PREFETCH_BATCHES) * image
    val = load_splits(str(tmp_path / "jelly"), 0.2, 0, tmp_path / "cache", img_size=16).x_val
    assert batches.held_bytes(files, 4, False, val) - batches.held_bytes(files, 4, False) == (
        val.nbytes  # a small validation split is kept in memory once read
    )
    model = _mlp()
    monkeypatch.setattr(memory_guard, "_rss_bytes", lambda: 0)
    monkeypatch.setenv(MEMORY_ENV, "1")  # 1 MiB for the whole worker
    check_step_fits(model, 400)  # the step alone fits ...
    with pytest.raises(ConfigError, match=r"0\.5 MiB of it for the input pipeline") as caught:
        check_step_fits(model, 400, held=2**19)  # ... not with what the pipeline holds
    fits = int(caught.value.message.split("at most ")[1].split(".")[0])
    assert fits < 400 and step_bytes(model, fits) + 2**19 <= 2**20


def test_headroom_is_what_psutil_reports_available(monkeypatch: pytest.MonkeyPatch) -> None:
    import psutil

    monkeypatch.delenv(MEMORY_ENV, raising=False)
    headroom, source = headroom_bytes()
    assert headroom == pytest.approx(psutil.virtual_memory().available, rel=0.2)
    assert source == "of the memory this machine has available"
