"""Launch plans and k-fold summaries."""

from __future__ import annotations

import statistics

import pytest

from core.analysis.folds import summarize_folds
from core.data.names import run_title
from core.spec.config import RunConfig
from core.spec.plan import plan_run
from core.store import Status, Store


def test_a_plain_config_is_a_single_run() -> None:
    plan = plan_run(RunConfig(), run_title(RunConfig().to_dict()))
    assert (plan.name, plan.kind, plan.configs) == ("cnn on digits", "single", [RunConfig()])


def test_k_folds_become_k_trials_of_one_study() -> None:
    cfg = RunConfig(folds=4)
    plan = plan_run(cfg, run_title(cfg.to_dict()))
    assert plan.kind == "kfold" and plan.configs == [cfg] * 4 and "4-fold" in plan.name


def test_fold_summary_uses_completed_folds_only(store: Store) -> None:
    _, ids = store.create_study("k", "kfold", [RunConfig(folds=3)] * 3, reserve_for=1)
    for tid, acc in zip(ids[:2], (0.9, 0.8), strict=True):
        results = {"val_accuracy": acc, "test_accuracy": acc / 2, "test_loss": 1}
        store.finish_trial(tid, Status.COMPLETED, results=results)
    store.finish_trial(ids[2], Status.FAILED, error="x")
    summary = summarize_folds(store.trials(study_ids=[store.trial(ids[0]).study_id]))
    assert (summary.folds, summary.finished) == (3, 2)
    assert summary.mean_accuracy == pytest.approx(0.85)
    assert summary.std_accuracy == pytest.approx(statistics.stdev([0.9, 0.8]))
