"""Cross-validated searches: execution n of each trial holds out fold n, the trial's objective
is its folds' mean, and the baseline is cross-validated the same way."""

from __future__ import annotations

import json
import statistics
from pathlib import Path

import numpy as np
import pytest

from core.cli.main import main
from core.engine.search.hypermodel import SearchHyperModel
from core.spec.config import RunConfig
from core.store import Status, Store
from core.views import tune_tables as tune_views
from core.worker.searches import SearchSettings, SearchSpace


def test_each_execution_holds_out_its_own_fold(cache: Path) -> None:
    base = RunConfig(model="mlp", epochs=1, folds=3)
    space = SearchSpace.from_list([{"key": "dense_units", "kind": "choice", "values": [8, 16]}])
    model = SearchHyperModel(base, space, SearchSettings(tuner="random"), cache)
    held_out = []
    for fold in range(3):
        model.execution = fold
        splits = model.splits(base)
        held_out.append({row.tobytes() for row in splits.x_val})
        trained = {row.tobytes() for row in splits.x_train}
        assert not held_out[-1] & trained
    assert not (held_out[0] & held_out[1] or held_out[0] & held_out[2] or held_out[1] & held_out[2])
    assert len(held_out[0] | held_out[1] | held_out[2]) == len(held_out[0]) + len(trained)


def test_a_cross_validated_search_scores_each_trial_by_its_folds_mean(
    store: Store, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    space = tmp_path / "space.json"
    space.write_text(json.dumps([{"key": "dense_units", "kind": "choice", "values": [8, 32]}]))
    args = ["tune", "--tuner", "random", "--max-trials", "2", "--space", str(space)]
    args += ["--set", "model=mlp", "--epochs", "2", "--set", "folds=3", "--keep-top", "1"]
    assert main([*args, "--json"]) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["state"] == "done" and summary["trials_done"] == 2

    study = store.study(summary["study"])
    objective = tune_views.objective_of(study)
    for trial in store.trials([study.id]):
        epochs = store.epochs(trial.id)
        assert [e.epoch for e in epochs] == list(range(6))  # fold n's epochs after fold n-1's
        folds = tune_views.fold_values(trial, epochs, objective)
        assert len(folds) == 3 and trial.results["executions"] == 3
        assert trial.results["objective"] == pytest.approx(statistics.fmean(folds))
    assert summary["best_value"] == pytest.approx(statistics.fmean(summary["best_fold_values"]))
    # The baseline is a 3-fold study, all trained; its value is their mean too.
    baseline = sorted(store.trials([study.spec["baseline_study"]]), key=lambda t: t.number)
    assert [t.status for t in baseline] == [Status.COMPLETED] * 3
    bests = [max(e.metrics["val_accuracy"] for e in store.epochs(t.id)) for t in baseline]
    assert summary["baseline_value"] == pytest.approx(float(np.mean(bests)))
