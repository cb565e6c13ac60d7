"""keras-tuner's tuners, each subclassed once so every trial and epoch streams into the store.

:func:`make_tuner` builds the search's tuner (``RandomSearch``, ``GridSearch``,
``BayesianOptimization`` or ``Hyperband`` with :class:`StoreTunerMixin`) on its project folder
``cache/tuning/<study>/`` with ``overwrite=False``, so a second search goes on where the first
stopped. ``core.engine.search.run`` runs it here; ``core.engine.search.distributed`` runs it
for a chief's oracle.

This module imports TensorFlow and keras-tuner; only worker processes use it.
"""

from __future__ import annotations

import gc
import os
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

import keras
import keras_tuner as kt
import psutil

from core.engine import compat, run_logs
from core.engine.executor import EpochRecorder
from core.engine.monitor import TrialMonitor
from core.engine.search.hypermodel import Execution, SearchHyperModel
from core.engine.search.parts import (
    EPOCH_SECONDS,
    SearchClock,
    SearchStopped,
    finish_store_trial,
    rss_mib,
    stored_history,
)
from core.spec.search_checks import longest_epochs
from core.spec.search_space import SearchSettings, trial_executions
from core.store import Store, paths
from core.store import searches as search_store
from core.store.checkpoint_files import checkpoint_dir

TUNER_CLASSES = {
    "random": kt.RandomSearch,
    "grid": kt.GridSearch,
    "bayesian": kt.BayesianOptimization,
    "hyperband": kt.Hyperband,
    # Optuna's TPE and HyperbandPruner as the oracle (core.engine.search.optuna_oracle).
    "bayes-hyperband": kt.Tuner,
}


class StoreTunerMixin:
    """Mixed into a keras-tuner Tuner: one store trial per tuner trial, every epoch streamed."""

    def __init__(
        self, *args: Any, store: Store, study_id: int, clock: SearchClock | None, **kwargs: Any
    ) -> None:
        self.store = store
        self.study_id = study_id
        self.clock = clock
        # A tuner that joined a chief's oracle (maybe on another machine) reports each epoch to
        # the chief, whose oracle writes the store (core.engine.search.distributed).
        self.remote = joined_chief()
        self.worker = f"{socket.gethostname()}:{os.getpid()}"
        self.trial_ids: dict[str, int] = {}
        self._monitor: TrialMonitor | None = None
        self._stop: SearchStopped | None = None
        self._execution = 0
        self.on_trial: Callable[[int], None] | None = None  # told each finished store trial
        self.trials_here = 0  # trials ended in this process
        self.trials_per_process: int | None = None  # hand the search on after this many
        self.handover_mib: float | None = None  # or once this process has grown this much
        self._rss_at_first: int | None = None  # this process's memory after its first trial
        super().__init__(*args, **kwargs)

    # Plugged into keras-tuner's override point (core.engine.compat.tuner_hooks); the space has
    # no conditions, so declaring the hyperparameters is enough and no model is built before
    # the first trial.
    def populate_space(self) -> None:
        """Declare the search space on the oracle (a fresh project only)."""
        hp = self.oracle.get_space()
        self.hypermodel.declare_hyperparameters(hp)
        self.oracle.update_space(hp)

    def on_search_begin(self) -> None:
        super().on_search_begin()
        self.save()  # a tuner file, so a run killed in its first trial reloads on resume

    def pre_create_trial(self) -> None:
        super().pre_create_trial()
        if self.remote:
            return  # the chief's oracle decides when the search ends
        self._check_stop()
        if self._stop is None and self._hand_on():
            self._stop = SearchStopped("queued", "Handed on to a fresh process")
        if self._stop is not None:
            raise self._stop

    def _hand_on(self) -> bool:
        """Whether this process has run its share: ``trials_per_process`` trials, or grown
        ``handover_mib`` since its first trial ended (memory a fresh process gives back)."""
        count = self.trials_per_process
        if count is not None and self.trials_here >= count:
            return True
        if self.handover_mib is None or self._rss_at_first is None:
            return False
        planned = self.store.study(self.study_id).spec.get("planned_trials")
        if planned and len(self.oracle.trials) >= planned:
            return False  # every planned trial ran: a fresh process would only end the search
        grown = psutil.Process().memory_info().rss - self._rss_at_first
        return grown > self.handover_mib * 2**20

    def on_trial_begin(self, trial: kt.engine.trial.Trial) -> None:
        super().on_trial_begin(trial)
        self._execution = 0
        if self.remote:
            return
        cfg = self.hypermodel.config(trial.hyperparameters)
        trial_id = search_store.start_trial(
            self.store, self.study_id, trial.trial_id, cfg, os.getpid(), self.worker
        )
        parent = trial.hyperparameters.values.get("tuner/trial_id")
        if parent is not None:  # Hyperband trains a model of an earlier trial further
            start = int(trial.hyperparameters.values.get("tuner/initial_epoch", 0))
            search_store.set_parent(
                self.store, trial_id, self.trial_ids_of().get(parent), start - 1
            )
        self.trial_ids[trial.trial_id] = trial_id
        self._monitor = TrialMonitor(self.store, trial_id).__enter__()
        self._monitor.update(phase="training", epochs=cfg.epochs, tuner_trial_id=trial.trial_id)

    def trial_ids_of(self) -> dict[str, int]:
        """keras-tuner trial id to store trial id, for every trial of the search so far."""
        known = search_store.read(self.store, self.study_id).progress.get("trials", {})
        return {k: int(v) for k, v in known.items()}

    def build_and_fit(self, trial: kt.engine.trial.Trial, *args: Any, **kwargs: Any) -> Any:
        """Build and train one execution of a trial through the one trial path.

        An execution that finished before the search stopped is not trained again: its
        history is read back from the store.
        """
        execution = self._execution
        self._execution += 1
        if execution < self._executions_done(trial):  # it finished before the search stopped
            return self._stored_history(trial, execution)
        kwargs["execution"] = self._execution_of(trial, execution)
        self.hypermodel.execution = execution  # keras-tuner builds the model next
        history = compat.base_build_and_fit(StoreTunerMixin, self, trial, *args, **kwargs)
        if self._stop is not None:
            raise self._stop
        if not self.remote:
            store_id = self.trial_ids[trial.trial_id]
            search_store.set_results(self.store, store_id, {"executions_done": execution + 1})
        return self._with_earlier_epochs(trial, execution, history)

    def _execution_of(self, trial: kt.engine.trial.Trial, execution: int) -> Execution:
        """Where one execution's epochs, checkpoints and logs go (``core.engine.executor``).

        Its epoch rows follow the earlier executions' (execution × the trial's epochs). Here
        they go to the store trial, with a checkpoint per epoch and TensorBoard logs in its run
        folder. A tuner working for a chief reports them to the chief's oracle instead, and keeps
        its checkpoints and logs in this machine's cache, under the keras-tuner trial's id (the
        chief's store numbers the trial; this machine's does not know it).
        """
        cfg = self.hypermodel.config(trial.hyperparameters)
        steps = self.hypermodel.steps(cfg)
        offset = execution * cfg.epochs
        if self.remote:

            def report(row: int, metrics: dict[str, float], seconds: float) -> None:
                # The chief's oracle writes the store and scores the trial from these reports;
                # one that stops trials early (Optuna's pruner) answers STOPPED.
                found = self.oracle.update_trial(
                    trial.trial_id, {**metrics, EPOCH_SECONDS: seconds}, step=row
                )
                if getattr(found, "status", None) == kt.engine.trial.TrialStatus.STOPPED:
                    recorder.model.stop_training = True  # after this epoch, which is kept

            recorder = EpochRecorder(report, None, cfg.epochs, steps, offset)
            here = paths.runs_dir(self.hypermodel.root) / str(self.study_id)
            folder = here / f"tuner-trial-{trial.trial_id}"
            logs = folder / "logs"
            if self.executions_per_trial > 1:
                logs = logs / f"execution_{execution + 1}"
            return Execution(execution, recorder, folder / "checkpoints", logs)
        store_trial = self.store.trial(self.trial_ids[trial.trial_id])
        if self._monitor is not None:
            self._monitor.update(execution=execution + 1, batches=steps)

        def write(row: int, metrics: dict[str, float], seconds: float) -> None:
            self.store.add_epoch(store_trial.id, row, metrics, seconds)

        recorder = EpochRecorder(write, self._monitor, cfg.epochs, steps, offset)
        logs = run_logs.log_dir(store_trial, self.hypermodel.root)
        if self.executions_per_trial > 1:
            logs = logs / f"execution_{execution + 1}"
        checkpoints = checkpoint_dir(store_trial, self.hypermodel.root)
        return Execution(execution, recorder, checkpoints, logs)

    def _executions_done(self, trial: kt.engine.trial.Trial) -> int:
        """Executions of the trial that finished in an earlier run of the search."""
        if self.remote:
            return 0
        results = self.store.trial(self.trial_ids[trial.trial_id]).results
        return int(results.get("executions_done", 0))

    def _stored_history(self, trial: Any, execution: int) -> keras.callbacks.History:
        """A finished execution's history, read back from its epochs in the store."""
        epochs = self.hypermodel.config(trial.hyperparameters).epochs
        first = int(trial.hyperparameters.values.get("tuner/initial_epoch", 0))
        rows = self.store.epochs(self.trial_ids[trial.trial_id])
        return stored_history(rows, execution * epochs, first, epochs)

    def _with_earlier_epochs(self, trial: Any, execution: int, history: Any) -> Any:
        """Prepend the epochs a resumed execution trained before it was stopped."""
        if self.remote or not isinstance(history, keras.callbacks.History) or not history.epoch:
            return history
        offset = execution * self.hypermodel.config(trial.hyperparameters).epochs
        first = offset + min(history.epoch)
        start = int(trial.hyperparameters.values.get("tuner/initial_epoch", 0)) + offset
        earlier = [
            e for e in self.store.epochs(self.trial_ids[trial.trial_id]) if start <= e.epoch < first
        ]
        for name, values in history.history.items():
            history.history[name] = [e.metrics.get(name) for e in earlier] + list(values)
        return history

    def on_epoch_end(self, trial: Any, model: keras.Model, epoch: int, logs: Any = None) -> None:
        # The epoch itself was recorded by the execution's EpochRecorder; here the search
        # decides whether to go on.
        if self.remote:
            return  # the chief's oracle decides when the search ends
        self._check_stop()
        if self._stop is not None:
            model.stop_training = True
            return
        report = getattr(self.oracle, "report", None)  # an oracle that stops trials early
        if report is not None:
            objective = self.oracle.objective.name
            if report(trial.trial_id, epoch + 1, (logs or {}).get(objective)):
                model.stop_training = True  # this epoch is recorded all the same

    def on_trial_end(self, trial: kt.engine.trial.Trial) -> None:
        super().on_trial_end(trial)
        gc.collect()
        if self.remote:
            return
        trial_id = self.trial_ids[trial.trial_id]
        ended = self.oracle.get_trial(trial.trial_id)
        pruned = getattr(self.oracle, "pruned", {}).get(trial.trial_id)
        finish_store_trial(
            self.store, trial_id, trial.status, trial.message, ended, self._execution, pruned
        )
        search_store.set_results(self.store, trial_id, {"worker_rss_mib": rss_mib()})
        self.trials_here += 1
        if self._rss_at_first is None:  # TensorFlow has set itself up: growth counts from here
            self._rss_at_first = psutil.Process().memory_info().rss
        self.close_monitor()
        if self.on_trial is not None:
            self.on_trial(self.trial_ids[trial.trial_id])

    def _check_stop(self) -> None:
        if self._stop is not None:
            return
        if self._monitor is not None and self._monitor.cancelled.is_set():
            self.clock.cancel.set()  # a cancel of the running trial cancels the search
        if self.clock.cancel.is_set():
            self._stop = SearchStopped("cancelled", "Cancelled")
        elif self.clock.out_of_time():
            self._stop = SearchStopped("out_of_time", "The time budget ran out")

    @property
    def running_trial(self) -> int | None:
        """The store id of the trial training now in this process, if any."""
        return None if self._monitor is None else self._monitor.trial_id

    def close_monitor(self) -> None:
        """Stop the running trial's heartbeat (its trial ends, or the search stops)."""
        if self._monitor is not None:
            self._monitor.__exit__(None, None, None)
            self._monitor = None


def joined_chief() -> bool:
    """True in a tuner process that works for a chief's oracle (keras-tuner's environment)."""
    return "KERASTUNER_ORACLE_IP" in os.environ and "chief" not in os.environ.get(
        "KERASTUNER_TUNER_ID", ""
    )


def tuner_class(name: str) -> type:
    """The store-streaming subclass of one of keras-tuner's tuners."""
    base = TUNER_CLASSES[name]
    hooks = compat.tuner_hooks(StoreTunerMixin.build_and_fit, StoreTunerMixin.populate_space)
    return type(f"Store{base.__name__}", (StoreTunerMixin, base), hooks)


def make_tuner(
    store: Store,
    study_id: int,
    root: Path,
    clock: SearchClock | None,
    settings: SearchSettings,
    hypermodel: SearchHyperModel,
) -> Any:
    """The search's tuner on its project folder, reloaded if it exists."""
    compat.quiet_trial_failures()
    objective = kt.Objective(settings.objective, direction=settings.direction)
    common: dict[str, Any] = {
        "hypermodel": hypermodel,
        "objective": objective,
        "seed": hypermodel.base.seed,
        "directory": str(root / "tuning"),
        "project_name": str(study_id),
        "overwrite": False,
        "max_consecutive_failed_trials": 3,
        "store": store,
        "study_id": study_id,
        "clock": clock,
    }
    if settings.tuner == "hyperband":
        common.update(
            max_epochs=settings.max_epochs,
            factor=settings.factor,
            hyperband_iterations=settings.iterations,
        )
    elif settings.tuner == "bayes-hyperband":
        from core.engine.search.optuna_oracle import OptunaOracle

        common["oracle"] = OptunaOracle(
            objective=common.pop("objective"),
            max_trials=settings.max_trials,
            min_epochs=settings.min_epochs,
            max_epochs=longest_epochs(hypermodel.base, hypermodel.space),
            factor=settings.factor,
            seed=common.pop("seed"),
            max_consecutive_failed_trials=common.pop("max_consecutive_failed_trials"),
        )
    else:
        common.update(max_trials=settings.max_trials)
    tuner = tuner_class(settings.tuner)(
        executions_per_trial=trial_executions(hypermodel.base, settings), **common
    )
    tuner.oracle.verbose = 0
    return tuner
