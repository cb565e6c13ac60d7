"""``python -m core tune``: a search with its baseline from the shell, ``--json``, bad input."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from core.cli import tune as tune_command
from core.cli.main import main
from core.engine.memory_guard import MEMORY_ENV
from core.store import Status, Store, paths
from core.worker.searches import search_state
from tests.app.tune_fixtures import write_stopped_hyperband


def test_tune_runs_baseline_and_search_and_ends_with_one_json_line(
    store: Store, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    space = tmp_path / "space.json"
    space.write_text(json.dumps([{"key": "dense_units", "kind": "choice", "values": [16, 32]}]))
    code = main(
        [
            "tune",
            "--tuner",
            "random",
            "--max-trials",
            "2",
            "--space",
            str(space),
            "--set",
            "model=mlp",
            "--epochs",
            "1",
            "--keep-top",
            "1",
            "--json",
        ]
    )
    out, err = capsys.readouterr()
    assert code == 0, err
    summary = json.loads(out.strip().splitlines()[-1])
    assert summary["state"] == "done" and summary["trials_done"] == 2
    assert summary["best_config"]["dense_units"] == summary["best_hp"]["dense_units"]
    assert 0 < summary["best_value"] <= 1 and 0 < summary["best_test_accuracy"] <= 1
    assert 0 < summary["baseline_test_accuracy"] <= 1
    assert "trial #0 completed" in err and "baseline: completed" in err
    # the log writes the objective as the app does: a percent with one decimal
    assert f"best val_accuracy {summary['best_value']:.1%}" in err, err
    assert re.search(r"trial #0 completed: val_accuracy \d+\.\d% {2}dense_units=(16|32)", err)
    state = search_state(store, summary["study"])
    assert state["best_value"] == summary["best_value"]
    (baseline,) = store.trials([state["baseline_study"]])
    assert baseline.status == Status.COMPLETED


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--tuner", "random"], "--space: give a --preset or a --space file"),
        (["--preset", "report000", "--max-epochs", "0"], "max_epochs: must be a whole number"),
        (["--preset", "report000", "--set", "dropout=7"], "dropout"),
        (["--space", "missing.json"], "--space: cannot read missing.json"),
        (["--resume", "99"], "there is no search 99"),
        (["--preset", "report000", "--workers", "0"], "--workers: give 1 or more"),
    ],
)
def test_bad_input_prints_one_line_and_exits_2(
    store: Store, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    assert main(["tune", *args]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1
    assert store.studies() == []


def test_a_search_whose_trials_all_fail_says_why(
    store: Store,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A 1 MiB memory cap refuses every trial's first step, after the search was accepted.
    # Two trials: fewer than keras-tuner's three failures in a row that make it give up.
    monkeypatch.setenv(MEMORY_ENV, "1")
    space = tmp_path / "space.json"
    space.write_text(json.dumps([{"key": "dense_units", "kind": "int", "low": 16, "high": 512}]))
    code = main(
        [
            "tune",
            "--tuner",
            "random",
            "--max-trials",
            "2",
            "--space",
            str(space),
            "--set",
            "model=mlp",
            "--epochs",
            "1",
            "--no-baseline",
            "--json",
        ]
    )
    out, err = capsys.readouterr()
    summary = json.loads(out.strip().splitlines()[-1])
    assert code == 1 and summary["state"] == "failed"
    assert summary["error"].startswith("Every trial failed (2 of 2); trial #")
    assert "failed: batch_size: One training step at batch_size 64" in summary["error"]
    assert "Traceback" not in err
    assert "\n" not in summary["error"]
    assert f"why: {summary['error']}" in err.splitlines()


def test_the_json_summary_gives_the_best_trial_s_epochs_and_when_the_baseline_is_better(
    store: Store,
) -> None:
    study_id, ids, _ = write_stopped_hyperband(store)
    summary = tune_command._summary(store, study_id)
    json.dumps(summary)  # one JSON line
    assert summary["best_trial"] == ids[5] and summary["best_value"] == pytest.approx(0.60)
    assert summary["best_epochs"] == 2 and summary["schedule_epochs"] == 10
    assert summary["baseline_value"] == pytest.approx(0.975)
    assert summary["baseline_better"] is True
    assert summary["verdict"].startswith(
        "The untuned baseline (97.5%) beats every trial so far; the search has not found a "
        f"better setting. Best so far: run {ids[5]}, a 2-epoch trial of a 10-epoch schedule;"
    )


def test_a_dry_run_prints_the_plan_and_its_estimate_and_queues_nothing(cache: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "core", "tune", "--preset", "report000", "--dry-run", "--json"],
        cwd=paths.PROJECT_ROOT,
        env={**os.environ, paths.CACHE_ENV: str(cache)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    plan = json.loads(done.stdout.strip().splitlines()[-1])
    assert plan["estimate_s"] > 0 and plan["ready"] and plan["problem"] is None
    assert (plan["trials"], plan["epochs"]) == (30, 120)
    assert [s["trials"] for s in plan["schedule"]] == [12, 4, 2, 6, 2, 4]
    assert plan["basis"]["kind"] == "default" and "nothing ran here yet" in plan["sentence"]
    store = Store(paths.store_path(cache))
    assert store.studies() == [] and store.trials() == []
    # Only the store file, and the artifact folders it marks as its own, left empty.
    left = {p.relative_to(cache).as_posix() for p in cache.rglob("*") if p.is_file()}
    assert {p for p in left if not p.startswith("store.sqlite")} <= {"runs/STORE", "tuning/STORE"}


def test_a_dry_run_says_why_a_search_could_not_start_here(
    store: Store, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["tune", "--preset", "report002", "--dry-run"])
    out, err = capsys.readouterr()
    assert code == 2
    assert out.startswith("Rough, about ") and "10 trials × 2 executions, 200 epochs" in out
    assert "it cannot start here: pretrained: ImageNet weights" in err
    assert store.studies() == []
