"""Launch plans and k-fold summaries."""

from __future__ import annotations

import statistics

import pytest

from core.config import RunConfig
from core.store import Status, Store
from core.studies import plan_run, summarize_folds


def test_a_plain_config_is_a_single_run() -> None:
    plan = plan_run(RunConfig())
    assert (plan.name, plan.kind, plan.configs) == ("cnn on digits", "single", [RunConfig()])


def test_k_folds_become_k_trials_of_one_study() -> None:
    cfg = RunConfig(folds=4)
    plan = plan_run(cfg)
    assert plan.kind == "kfold" and plan.configs == [cfg] * 4 and "4-fold" in plan.name


def test_fold_summary_uses_completed_folds_only(store: Store) -> None:
    _, ids = store.create_study("k", "kfold", [RunConfig(folds=3)] * 3, claim_pid=1)
    for tid, acc in zip(ids[:2], (0.9, 0.8), strict=True):
        store.finish_trial(tid, Status.COMPLETED, results={"test_accuracy": acc, "test_loss": 1})
    store.finish_trial(ids[2], Status.FAILED, error="x")
    summary = summarize_folds(store.trials(study_ids=[store.trial(ids[0]).study_id]))
    assert (summary.folds, summary.finished) == (3, 2)
    assert summary.mean_accuracy == pytest.approx(0.85)
    assert summary.std_accuracy == pytest.approx(statistics.stdev([0.9, 0.8]))
