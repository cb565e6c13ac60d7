"""``python -m core sweep``: a real sweep through the command line, recorded as one study."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from core.cli.runs import run_rows
from core.spec.scores import wilson_interval
from core.spec.sweeps import SweepSpec
from core.store import Status, Store, paths
from core.views.runs import runs_frame
from tests.cli.conftest import run_here


def test_sweep_trains_every_value_and_repeat_and_ends_with_one_json_line(
    cache: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # The command sets KERAS_HOME for its process; this puts the old value back afterwards.
    monkeypatch.setenv("KERAS_HOME", str(paths.keras_home(cache)))
    status, stdout, stderr = run_here(
        capsys,
        "sweep",
        "--param", "batch_size", "--values", "400,1000", "--repeats", "2",
        "--epochs", "1", "--set", "model=mlp", "--json",
    )  # fmt: skip
    assert status == 0, stderr
    summary = json.loads(stdout.strip().splitlines()[-1])
    assert summary["params"] == ["batch_size"] and summary["status"] == "completed"
    assert [v["value"] for v in summary["values"]] == [400, 1000]
    store = Store(paths.store_path(cache))
    trials = store.trials(study_ids=[summary["study"]])
    assert len(trials) == 4 and {t.status for t in trials} == {Status.COMPLETED}
    for value in summary["values"]:
        mine = [t for t in trials if t.config["batch_size"] == value["value"]]
        accs = [t.test_accuracy for t in mine]
        assert value["runs"] == 2 and sorted(t.config["seed"] for t in mine) == [0, 1]
        assert value["test_accuracy"] == pytest.approx(sum(accs) / 2)
        assert value["test_accuracy_std"] == pytest.approx(abs(accs[0] - accs[1]) / 2**0.5)
        assert value["seconds_per_epoch"] > 0 and value["seconds_per_epoch_std"] is not None
        # Each value's verdict against the best, its difference and interval with their unit.
        assert value["verdict"] in ("best", "tied", "worse")
        assert value["unit"] == "percentage points" and len(value["diff_ci"]) == 2
        low, high = value["diff_ci"]
        assert low <= value["diff_vs_best"] <= high
        assert value["time"]["verdict"] in ("best", "tied", "worse")
        assert value["time"]["unit"] == "s"
        # Every run is scored on the same 360 digits: the interval those allow the mean.
        right = round(value["test_accuracy"] * 360)
        assert value["test_images"] == 360
        assert value["test_accuracy_ci"] == pytest.approx(list(wilson_interval(right, 360)))
    best = [v for v in summary["values"] if v["verdict"] == "best"]
    assert len(best) == 1 and best[0]["diff_vs_best"] == 0.0
    (other,) = [v for v in summary["values"] if v is not best[0]]
    excludes_zero = other["diff_ci"][1] < 0 or other["diff_ci"][0] > 0
    assert excludes_zero == (other["verdict"] == "worse")
    assert summary["test"]["alpha"] == 0.05 and "Holm" in summary["test"]["method"]
    assert all(t.results["peak_memory_mb"] > 0 for t in trials)
    assert SweepSpec.from_dict(store.study(summary["study"]).spec).repeats == 2
    assert "run 4/4: batch size 1000, repeat 2/2" in stderr
    top = [line for line in stderr.splitlines()
           if line.startswith(("Best batch size", "Tied best batch size"))]  # fmt: skip
    assert top and "(95% CI " in top[0] and ", 360 images)" in top[0]


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (("--param", "batch_size", "--values", "20,5000"), "batch_size: value '5000'"),
        (("--param", "dropout", "--values", "0.1", "--param", "l2"), "one --values list"),
        (
            ("--param", "conv_blocks", "--values", "2,3,4"),
            "conv_blocks: value '4': conv blocks: 8×8 images allow at most 3 blocks",
        ),
        (
            ("--param", "filters", "--values", "16,64; 16,64,128"),
            "filters: value '16,64,128': filters per block: 3 values for 2 conv blocks",
        ),
    ],
)
def test_bad_values_exit_2_with_one_line_and_record_nothing(
    store: Store, capsys: pytest.CaptureFixture[str], args: tuple[str, ...], words: str
) -> None:
    status, _, err = run_here(capsys, "sweep", *args)
    assert status == 2
    assert err.strip().startswith("error:") and words in err
    assert len(err.strip().splitlines()) == 1
    assert "Traceback" not in err
    assert store.studies() == []


def test_no_wait_queues_the_sweep_for_a_worker_pool_and_returns_at_once(
    capsys: pytest.CaptureFixture[str], cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HPE_WORKERS", "2")
    began = time.monotonic()
    ran = run_here(
        capsys, "sweep", "--param", "batch_size", "--values", "16,32,64", "--set", "model=mlp",
        "--set", "dense_units=16", "--epochs", "1", "--no-wait", "--json",
    )  # fmt: skip
    assert ran.status == 0, ran.err
    assert time.monotonic() - began < 10  # queued, not trained here
    line = json.loads(ran.out.strip().splitlines()[-1])
    assert line["status"] == "queued" and line["worker_started"] is True
    store = Store(paths.store_path(cache))
    assert store.trial(line["trials"][0]).worker_pid is None  # for any worker, not this process

    end = time.monotonic() + 240
    while time.monotonic() < end and any(
        not store.trial(t).status.finished for t in line["trials"]
    ):
        time.sleep(0.5)
    rows = [r for r in run_rows(runs_frame(store)) if r["study"] == line["study"]]
    assert [r["status"] for r in rows] == ["completed"] * 3
    assert all(r["worker"] and r["worker"].split(":")[-1].isdigit() for r in rows)
    assert str(os.getpid()) not in {r["worker"].split(":")[-1] for r in rows}
