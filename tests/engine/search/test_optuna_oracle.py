"""Bayesian search with Hyperband early termination: Optuna's TPE values, its pruner's verdicts
with the threshold each stopped trial missed, and a real search on digits whose pruned trials
keep their epochs."""

from __future__ import annotations

from pathlib import Path

import keras_tuner as kt
import optuna
import pytest
from optuna.trial import TrialState

from core.engine.search.optuna_oracle import JOURNAL, OptunaOracle, brackets
from core.spec.config import RunConfig
from core.store import Status, Store
from core.store import searches as search_store
from core.views.tune_tables import objective_of, stop_reason
from core.worker.searches import SearchSettings, SearchSpace, launch_search, search_state

OBJECTIVE = kt.Objective("val_accuracy", "max")


def _oracle(folder: Path, max_epochs: int = 2) -> OptunaOracle:
    oracle = OptunaOracle(OBJECTIVE, max_trials=10, min_epochs=1, max_epochs=max_epochs, factor=3)
    oracle._set_project_dir(str(folder), "search")
    hp = kt.HyperParameters()
    hp.Float("learning_rate", 1e-4, 1e-1, sampling="log")
    hp.Choice("optimizer", ["adam", "sgd"])
    hp.Int("dense_units", 16, 64, step=16)
    hp.Fixed("epochs", max_epochs)
    oracle.update_space(hp)
    return oracle


def _trial_with(oracle: OptunaOracle, value: float) -> tuple[kt.engine.trial.Trial, bool]:
    """One trial that reports ``value`` after its first epoch, then ends; and whether the
    pruner stopped it there."""
    trial = oracle.create_trial("chief")
    pruned = oracle.report(trial.trial_id, 1, value)
    oracle.update_trial(trial.trial_id, {"val_accuracy": value}, step=0)
    trial.status = kt.engine.trial.TrialStatus.COMPLETED
    oracle.end_trial(trial)
    return trial, pruned


def test_the_values_come_from_optuna_within_the_space(tmp_path: Path) -> None:
    oracle = _oracle(tmp_path)
    trial = oracle.create_trial("chief")
    values = trial.hyperparameters.values
    assert 1e-4 <= values["learning_rate"] <= 1e-1 and values["optimizer"] in ("adam", "sgd")
    assert values["dense_units"] in (16, 32, 48, 64) and values["epochs"] == 2
    (asked,) = oracle.study.get_trials()
    assert asked.params == {k: values[k] for k in ("learning_rate", "optimizer", "dense_units")}
    assert (tmp_path / "search" / JOURNAL).is_file()


def test_a_trial_is_pruned_below_the_best_third_of_its_rung_and_says_against_what(
    tmp_path: Path,
) -> None:
    # One bracket (min 1, max 2, factor 3): every trial is judged after its first epoch
    # against the trials before it; the best third of them (at least the best one) go on.
    assert brackets(1, 2, 3) == 1
    oracle = _oracle(tmp_path)
    _, first = _trial_with(oracle, 0.90)  # alone at the rung: goes on
    second, pruned_second = _trial_with(oracle, 0.80)  # below the best of [0.9, 0.8]
    _, third = _trial_with(oracle, 0.95)  # the best of three
    fourth, pruned_fourth = _trial_with(oracle, 0.50)  # below the best one of four
    assert (first, pruned_second, third, pruned_fourth) == (False, True, False, True)
    why = oracle.pruned[second.trial_id]
    assert why["threshold"] == pytest.approx(0.90) and (why["compared"], why["kept"]) == (2, 1)
    assert why["epoch"] == 1 and why["value"] == pytest.approx(0.80) and why["rung"] == 0
    assert oracle.pruned[fourth.trial_id]["threshold"] == pytest.approx(0.95)
    states = [t.state for t in oracle.study.get_trials()]
    assert states == [TrialState.COMPLETE, TrialState.PRUNED, TrialState.COMPLETE] + [
        TrialState.PRUNED
    ]
    assert oracle.study.best_value == pytest.approx(0.95)


def test_a_reloaded_oracle_keeps_its_trials_and_takes_a_trial_handed_out_before_a_kill(
    tmp_path: Path,
) -> None:
    oracle = _oracle(tmp_path)
    done, _ = _trial_with(oracle, 0.7)
    oracle.save()
    # A kill after Optuna handed out a trial and before keras-tuner recorded it.
    oracle.study.ask(
        {
            "learning_rate": optuna.distributions.FloatDistribution(1e-4, 1e-1, log=True),
            "optimizer": optuna.distributions.CategoricalDistribution(["adam", "sgd"]),
            "dense_units": optuna.distributions.IntDistribution(16, 64, step=16),
        }
    )
    again = _oracle(tmp_path)
    again.reload()
    assert again.numbers == {done.trial_id: 0}
    taken = again.create_trial("chief")
    assert again.numbers[taken.trial_id] == 1  # the orphan, not a third Optuna trial
    assert len(again.study.get_trials()) == 2


def test_a_search_on_digits_prunes_the_trials_its_rule_says_and_keeps_their_epochs(
    store: Store, cache: Path
) -> None:
    from core.engine.search.run import run_search

    # Two epochs, judged after the first: one bracket, so each trial is compared with every
    # trial before it, and which are pruned follows from their first epochs' values alone.
    base = RunConfig(model="mlp", epochs=2, batch_size=64, dense_units=16)
    assert brackets(1, 2, 3) == 1
    space = SearchSpace.from_list(
        [
            {"key": "learning_rate", "kind": "float", "low": 1e-5, "high": 0.3, "log": True},
            {"key": "dense_units", "kind": "choice", "values": [8, 32]},
        ]
    )
    settings = SearchSettings(
        tuner="bayes-hyperband", max_trials=8, min_epochs=1, factor=3, keep_top=1
    )
    study_id = launch_search(store, base, space, settings, baseline=False)
    assert search_store.claim(store, "test:1", study_id) == study_id
    assert run_search(store, study_id, cache) == "done"

    trials = sorted(store.trials([study_id]), key=lambda t: t.number)
    assert [t.number for t in trials] == list(range(8))
    firsts: list[float] = []
    objective = objective_of(store.study(study_id))
    for trial in trials:
        assert trial.status == Status.COMPLETED, trial.error
        epochs = store.epochs(trial.id)
        firsts.append(epochs[0].metrics["val_accuracy"])
        keep = max(1, len(firsts) // 3)  # successive halving: the best third goes on
        threshold = sorted(firsts, reverse=True)[keep - 1]
        if firsts[-1] < threshold:  # stopped right after the epoch it was judged on, kept
            why = trial.results["pruned"]
            assert [e.epoch for e in epochs] == [0] and why["epoch"] == 1
            assert why["threshold"] == pytest.approx(threshold)
            assert (why["compared"], why["kept"]) == (len(firsts), keep)
            assert stop_reason(trial, 1, objective).startswith("pruned at epoch 1: ")
        else:
            assert "pruned" not in trial.results
            assert [e.epoch for e in epochs] == [0, 1] and stop_reason(trial, 2, objective) is None
    pruned = sum("pruned" in t.results for t in trials)
    journal = optuna.load_study(
        study_name="search",
        storage=optuna.storages.JournalStorage(
            optuna.storages.journal.JournalFileBackend(
                str(cache / "tuning" / str(study_id) / JOURNAL)
            )
        ),
    )
    states = [t.state for t in journal.get_trials()]
    assert states.count(TrialState.PRUNED) == pruned
    assert states.count(TrialState.COMPLETE) == 8 - pruned
    state = search_state(store, study_id)
    assert state["trials_done"] == 8 and store.trial(state["best_trial"]).results["kept"]
