"""Bayesian search with Hyperband early termination: Optuna's TPE sampler and HyperbandPruner.

:class:`OptunaOracle` is a keras-tuner oracle, so the search runs through the same tuner, trial
path, store, time budget, hand-overs and Resume as keras-tuner's own methods; only where the
values come from and when a trial stops are Optuna's:

* each trial's values come from ``study.ask`` over the space's distributions (TPE: its first
  trials sampled at random, then from the densities of the good and the bad trials so far);
* every epoch's objective is reported to the trial (``step`` = epochs trained), and the trial
  stops when Optuna's ``HyperbandPruner`` prunes it: its epochs are kept, its end told to
  Optuna as *pruned*; :attr:`OptunaOracle.pruned` says at which rung, with which value, against
  which threshold;
* a trial that ends is told to Optuna with its score (keras-tuner's best epoch), one that fails
  as failed.

Optuna's state is its journal file, ``optuna.journal`` in the search's project folder beside
keras-tuner's ``oracle.json``; which Optuna trial each keras-tuner trial is lives in both. A
search killed mid-trial goes on with that trial when it resumes (keras-tuner runs the trial it
left running again, from its checkpoint); a trial Optuna handed out just before a kill, which
keras-tuner never recorded, is the next one taken, so no sampled trial is lost or run twice.

As keras-tuner's chief (``core.engine.search.distributed``), the oracle judges the epochs tuners
report over gRPC and answers a pruned trial's report with ``STOPPED``, which the tuner obeys
after that epoch; its store trial ends as here.

This module imports keras-tuner and Optuna; only search processes use it.
"""

from __future__ import annotations

import copy
import math
import os
import warnings
from typing import Any

import keras_tuner as kt
import optuna
from optuna.distributions import (
    BaseDistribution,
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)
from optuna.storages import JournalStorage
from optuna.storages.journal import JournalFileBackend
from optuna.trial import TrialState

from core.engine import compat

JOURNAL = "optuna.journal"
STUDY_NAME = "search"
RUNNING = kt.engine.trial.TrialStatus.RUNNING
COMPLETED = kt.engine.trial.TrialStatus.COMPLETED
FAILED = kt.engine.trial.TrialStatus.FAILED
STOPPED = kt.engine.trial.TrialStatus.STOPPED
# TPE samples this many trials at random before it models the good and bad ones (Optuna's
# default), or half the trials of a smaller search.
STARTUP_TRIALS = 10

optuna.logging.set_verbosity(optuna.logging.WARNING)


def brackets(min_epochs: int, max_epochs: int, factor: int) -> int:
    """How many brackets Optuna's HyperbandPruner makes of these settings (its own formula)."""
    return math.floor(math.log(max(max_epochs, 1) / max(min_epochs, 1), factor)) + 1


def distributions(hp: kt.HyperParameters) -> tuple[dict[str, BaseDistribution], dict[str, Any]]:
    """The space as Optuna distributions, and its fixed values.

    A stepped range keeps its step; keras-tuner's log-scale int range (16, 32, 64: a factor
    per step) has no Optuna counterpart, so its values are a categorical list.
    """
    found: dict[str, BaseDistribution] = {}
    fixed: dict[str, Any] = {}
    for p in hp.space:
        if isinstance(p, kt.engine.hyperparameters.Fixed):
            fixed[p.name] = p.value
        elif isinstance(p, kt.engine.hyperparameters.Boolean):
            found[p.name] = CategoricalDistribution([False, True])
        elif isinstance(p, kt.engine.hyperparameters.Choice):
            found[p.name] = CategoricalDistribution(list(p.values))
        elif isinstance(p, kt.engine.hyperparameters.Int):
            if p.sampling == "log":
                found[p.name] = CategoricalDistribution([int(v) for v in p.values])
            else:
                found[p.name] = IntDistribution(p.min_value, p.max_value, step=p.step or 1)
        elif isinstance(p, kt.engine.hyperparameters.Float):
            log = p.sampling == "log"
            step = None if log else p.step
            found[p.name] = FloatDistribution(p.min_value, p.max_value, log=log, step=step)
        else:  # the space's editor makes only the kinds above
            raise TypeError(f"{p.name}: {type(p).__name__} has no Optuna distribution")
    return found, fixed


class OptunaOracle(kt.Oracle):
    """keras-tuner's oracle over an Optuna study: TPE's values, Hyperband's pruning.

    Attributes:
        numbers: keras-tuner trial id -> the Optuna trial number it runs.
        pruned: keras-tuner trial id -> why Optuna stopped it (:meth:`report`).
    """

    def __init__(
        self,
        objective: kt.Objective,
        max_trials: int,
        min_epochs: int,
        max_epochs: int,
        factor: int,
        seed: int | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(objective=objective, max_trials=max_trials, seed=seed, **kwargs)
        self.min_epochs = min_epochs
        self.max_epochs = max_epochs
        self.factor = factor
        self.numbers: dict[str, int] = {}
        self.pruned: dict[str, dict[str, Any]] = {}
        self._study: optuna.Study | None = None
        # Serving as keras-tuner's chief (its oracle address is set), the oracle hears each
        # epoch of every tuner through update_trial, and answers a pruned trial with STOPPED.
        self.judges_updates = "KERASTUNER_ORACLE_IP" in os.environ

    @property
    def study(self) -> optuna.Study:
        """The Optuna study in the project folder's journal, created on first use."""
        if self._study is None:
            path = compat.project_dir(self) / JOURNAL
            path.parent.mkdir(parents=True, exist_ok=True)
            storage = JournalStorage(JournalFileBackend(str(path)))
            direction = "maximize" if self.objective.direction == "max" else "minimize"
            # Seeded by the trials so far, so a resumed search does not draw its first
            # trials' values again.
            known = _trial_count(storage)
            sampler = optuna.samplers.TPESampler(
                seed=None if self.seed is None else self.seed + known,
                n_startup_trials=min(STARTUP_TRIALS, max(1, (self.max_trials or 2) // 2)),
            )
            pruner = optuna.pruners.HyperbandPruner(
                min_resource=self.min_epochs,
                max_resource=self.max_epochs,
                reduction_factor=self.factor,
            )
            self._study = optuna.create_study(
                study_name=STUDY_NAME,
                storage=storage,
                load_if_exists=True,
                direction=direction,
                sampler=sampler,
                pruner=pruner,
            )
        return self._study

    def populate_space(self, trial_id: str) -> dict[str, Any]:
        """The next trial's values: an Optuna trial handed out but never recorded, else a new
        one asked of TPE."""
        found, fixed = distributions(self.hyperparameters)
        taken = set(self.numbers.values())
        orphans = [
            t
            for t in self.study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
            if t.number not in taken and set(t.params) == set(found)
        ]
        if orphans:
            number, params = orphans[0].number, dict(orphans[0].params)
        else:
            asked = self.study.ask(found)
            number, params = asked.number, dict(asked.params)
        self.numbers[trial_id] = number
        return {"status": RUNNING, "values": {**fixed, **params}}

    def _trial(self, trial_id: str) -> optuna.Trial | None:
        number = self.numbers.get(trial_id)
        if number is None:
            return None
        frozen = self.study.get_trials(deepcopy=False)[number]
        if frozen.state != TrialState.RUNNING:
            return None
        return compat.running_optuna_trial(self.study, frozen)

    def report(self, trial_id: str, epochs: int, value: float | None) -> bool:
        """Report a trial's objective after ``epochs`` epochs; True when the pruner stops it.

        A stopped trial's reason is kept in :attr:`pruned`.
        """
        trial = self._trial(trial_id)
        if trial is None:
            return False
        shown = float("nan") if value is None else float(value)
        with warnings.catch_warnings():  # an epoch trained again after a kill: reported once
            warnings.simplefilter("ignore")
            trial.report(shown, epochs)
        if not trial.should_prune():
            return False
        self.pruned[trial_id] = self._why(trial, epochs, shown)
        return True

    def _why(self, trial: optuna.Trial, epochs: int, value: float) -> dict[str, Any]:
        """At which rung, against which threshold: what Optuna's successive halving compared.

        Optuna does not return this, so it is read back from what its pruner stored: the value
        of every trial of the same bracket that reached the rung (``completed_rung_<r>``), of
        which the best ``1/factor`` go on (at least the best one).
        """
        why: dict[str, Any] = {"epoch": epochs, "value": value}
        if math.isnan(value):
            return {**why, "reason": "its objective was not a number"}
        try:
            frozen, bracket, mates = compat.pruner_bracket(self.study, trial)
            rung = max(
                int(k.rpartition("_")[2]) for k in frozen.system_attrs if k.startswith("completed_")
            )
        except (AttributeError, ValueError, KeyError):  # another Optuna's internals: no detail
            return why
        key = f"completed_rung_{rung}"
        values = sorted(t.system_attrs[key] for t in mates if key in t.system_attrs)
        keep = max(1, len(values) // self.factor)
        best_first = values[::-1] if self.objective.direction == "max" else values
        return {
            **why,
            "rung": rung,
            "bracket": bracket,
            "threshold": best_first[keep - 1],
            "compared": len(values),
            "kept": keep,
        }

    def update_trial(self, trial_id: str, metrics: Any, step: int = 0) -> Any:
        """keras-tuner's record of an epoch; as the chief, also Optuna's report and verdict."""
        trial = super().update_trial(trial_id, metrics, step=step)
        if not self.judges_updates:
            return trial
        value = dict(metrics).get(self.objective.name)
        if not self.report(trial_id, int(step) + 1, value):
            return trial
        stopped = copy.copy(trial)  # the tuner is told to stop; the oracle's trial runs on
        stopped.status = STOPPED
        return stopped

    def end_trial(self, trial: kt.engine.trial.Trial) -> None:
        super().end_trial(trial)
        ended = self.trials[trial.trial_id]
        number = self.numbers.get(trial.trial_id)
        if number is None:
            return
        if ended.status == COMPLETED and trial.trial_id in self.pruned:
            self.study.tell(number, state=TrialState.PRUNED, skip_if_finished=True)
        elif ended.status == COMPLETED and ended.score is not None:
            self.study.tell(number, float(ended.score), skip_if_finished=True)
        elif ended.status == FAILED:
            self.study.tell(number, state=TrialState.FAIL, skip_if_finished=True)

    def get_state(self) -> dict[str, Any]:
        state = super().get_state()
        state["optuna"] = {"numbers": self.numbers, "pruned": self.pruned}
        return state

    def set_state(self, state: dict[str, Any]) -> None:
        super().set_state(state)
        kept = state.get("optuna", {})
        self.numbers = {k: int(v) for k, v in kept.get("numbers", {}).items()}
        self.pruned = dict(kept.get("pruned", {}))


def _trial_count(storage: JournalStorage) -> int:
    """Trials the journal's study holds already (0 for a new journal)."""
    try:
        study_id = storage.get_study_id_from_name(STUDY_NAME)
    except KeyError:
        return 0
    return len(storage.get_all_trials(study_id, deepcopy=False))
