"""A run's hand-over: config.json with provenance, bundle zip, logs zip, a study's CSV."""

from __future__ import annotations

import csv
import io
import json
import zipfile
from pathlib import Path

import numpy as np
import pytest

from core.data.fingerprint import array_digest, read_provenance
from core.handover.bundle import (
    best_trial,
    bundle_zip,
    logs_zip,
    script_file,
    study_csv,
    write_bundle,
)
from core.spec.config import RunConfig
from core.store import Status, Store

SAFE = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-/")


@pytest.fixture
def trained(trained_run: tuple[Store, Path, int]) -> tuple[Store, Path, int]:
    """The session's real 2-epoch mlp run on digits, seed 3 (``tests/conftest.py``), read only."""
    return trained_run


def test_config_json_records_seed_data_and_versions_and_loads_back_equal(
    trained: tuple[Store, Path, int],
) -> None:
    store, _, completed = trained
    trial = store.trial(completed)
    text = Path(trial.results["artifacts"]["config"]).read_text()
    assert RunConfig.from_json(text) == trial.run_config
    origin = read_provenance(text)
    assert origin["seed"] == 3 and origin["trial"] == completed
    assert set(origin["versions"]) >= {"python", "tensorflow", "keras", "numpy"}
    data = origin["data"]
    assert len(data["sha256"]) == 64 and data["sha256"] != data["test_sha256"]
    assert data["sizes"] == trial.results["sizes"] and data["image_shape"] == [8, 8, 1]


def test_the_data_fingerprint_changes_with_any_pixel_and_not_otherwise() -> None:
    x = np.arange(64, dtype=np.uint8).reshape(1, 8, 8, 1)
    y = np.array([3])
    same = array_digest([x.copy(), y.copy()])
    assert array_digest([x, y]) == same
    changed = x.copy()
    changed[0, 7, 7, 0] += 1
    assert array_digest([changed, y]) != same
    assert array_digest([x.astype(np.int64), y]) != same  # same values, other dtype


def test_the_bundle_zip_holds_model_weights_config_script_and_logs(
    trained: tuple[Store, Path, int],
) -> None:
    store, cache, completed = trained
    trial = store.trial(completed)
    name, data = bundle_zip(store, completed, cache)
    stem = name.removesuffix("-bundle.zip")
    assert (
        stem
        == f"study{trial.study_id}-run{completed}-digits-mlp-acc{trial.test_accuracy * 100:.1f}"
    )
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        names = archive.namelist()
        assert all(n.startswith(f"{stem}/") and set(n) <= SAFE for n in names)
        saved = trial.results["artifacts"]
        assert archive.read(f"{stem}/{stem}.keras") == Path(saved["model"]).read_bytes()
        assert archive.read(f"{stem}/{stem}.weights.h5") == Path(saved["weights"]).read_bytes()
        assert archive.read(f"{stem}/{stem}.config.json") == Path(saved["config"]).read_bytes()
        script = archive.read(f"{stem}/{stem}-train.py").decode()
        assert '"seed": 3' in script and "from core" not in script
        events = [n for n in names if "-logs/" in n and "events.out.tfevents" in n]
        assert {n.split("/")[2] for n in events} == {"train", "validation"}


def test_the_logs_zip_and_the_script_are_named_after_the_run(
    trained: tuple[Store, Path, int], tmp_path: Path
) -> None:
    store, cache, completed = trained
    trial = store.trial(completed)
    found = logs_zip(trial, cache)
    assert found is not None
    name, data = found
    assert name.endswith("-logs.zip") and f"run{completed}" in name
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert any("events.out.tfevents" in n for n in archive.namelist())
    script_name, text = script_file(store, completed)
    assert script_name.endswith("-train.py") and text.startswith('"""mlp on digits')
    written = write_bundle(store, completed, tmp_path / "out", cache)
    assert [p.name for p in written][3] == script_name
    assert written[3].read_text() == text


def test_a_run_without_files_has_no_bundle(store: Store, cache: Path) -> None:
    _, (tid,) = store.create_study("queued", "single", [RunConfig()])
    with pytest.raises(FileNotFoundError, match="no saved model.keras"):
        bundle_zip(store, tid, cache)
    assert logs_zip(store.trial(tid), cache) is None


def test_a_study_gives_every_trial_as_csv_and_its_best_trial(store: Store) -> None:
    configs = [RunConfig(learning_rate=rate) for rate in (0.1, 0.01, 0.001)]
    study, ids = store.create_study("lr sweep: <0.1..0.001>", "sweep", configs)
    for tid, acc, loss in zip(ids, (0.5, 0.9, 0.9), (1.0, 0.4, 0.3), strict=True):
        store.claim_next(pid=1)
        store.finish_trial(tid, Status.COMPLETED, {"test_accuracy": acc, "test_loss": loss})
    store.create_study("other", "single", [RunConfig()])
    best = best_trial(store, study)
    assert best is not None and best.id == ids[2]  # equal accuracy: the lower loss wins

    name, text = study_csv(store, study)
    assert name.endswith("-trials.csv") and set(name) <= SAFE and f"study{study}" in name
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [int(r["trial"]) for r in rows] == ids
    assert [float(r["config.learning_rate"]) for r in rows] == [0.1, 0.01, 0.001]
    assert [float(r["test_accuracy"]) for r in rows] == [0.5, 0.9, 0.9]
    assert json.loads(rows[0]["config.filters"]) == [16, 64]


def test_a_study_with_no_completed_trial_has_no_best(store: Store) -> None:
    study, _ = store.create_study("waiting", "single", [RunConfig()])
    assert best_trial(store, study) is None
