"""keras-tuner's chief/worker mode: one oracle serves trials over gRPC to tuners anywhere.

keras-tuner reads three environment variables: ``KERASTUNER_ORACLE_IP`` and
``KERASTUNER_ORACLE_PORT`` (where the chief's oracle listens) and ``KERASTUNER_TUNER_ID``
(``chief`` for the chief; any other id for a tuner). Here:

* :func:`serve_as_chief` (``core.engine.search.run.run_search(..., chief=(host, port))``) runs
  the search's oracle as the chief. Its oracle is given :class:`StoreOracleMixin`, so it writes
  the store: a store trial when it hands out a trial (``worker`` = the tuner's id,
  ``host:pid``), each epoch a tuner reports, the trial's end, and heartbeats while trials run.
  The time budget and a cancel request end the search between trials (the chief hands out no
  more).
* :func:`join` (``python -m core worker --join HOST:PORT --study ID``) runs a tuner that asks
  the chief for trials, trains them, and reports every epoch through its ``OracleClient``
  (``update_trial``), so trials on any machine stream into the chief's store. It asks the
  chief what the search is (:func:`fetch_search`: base config, space and settings), so it
  needs no copy of the chief's store, only the dataset.

This module imports TensorFlow and keras-tuner; only worker processes use it.
"""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

import grpc
import keras_tuner as kt

from core.engine import compat
from core.engine.monitor import Heartbeat
from core.engine.search.hypermodel import SearchHyperModel
from core.engine.search.parts import (
    EPOCH_SECONDS,
    SearchClock,
    SearchStopped,
    environment,
    finish_store_trial,
)
from core.spec.config import ConfigError, RunConfig
from core.spec.search_space import SearchSettings, SearchSpace, trial_executions
from core.store import Store, open_store, paths
from core.store import searches as search_store

ENV_IP, ENV_PORT, ENV_ID = "KERASTUNER_ORACLE_IP", "KERASTUNER_ORACLE_PORT", "KERASTUNER_TUNER_ID"
RUNNING = kt.engine.trial.TrialStatus.RUNNING
STOPPED = kt.engine.trial.TrialStatus.STOPPED
SPEC_KEYS = ("base", "space", "settings")
# A trial id no keras-tuner trial takes: asked for it, the chief's oracle answers with the
# search's spec (one fixed hyperparameter holding its JSON), which is how a joining tuner on
# another machine learns what to train.
SPEC_TRIAL = "search-spec"
SPEC_TIMEOUT_S = 60.0


class StoreOracleMixin:
    """Given to the chief's oracle: every trial it hands out, and each epoch, go to the store."""

    def attach(
        self,
        store: Store,
        study_id: int,
        clock: SearchClock,
        hypermodel: SearchHyperModel,
        settings: SearchSettings,
        on_trial: Callable[[int], None] | None,
    ) -> None:
        """Connect the oracle to the search's store trials."""
        self.store = store
        self.study_id = study_id
        self.clock = clock
        self.hypermodel = hypermodel
        self.settings = settings
        self.on_trial = on_trial
        self.stop: SearchStopped | None = None
        known = search_store.read(store, study_id).progress.get("trials", {})
        self.live = {k: int(v) for k, v in known.items()}
        spec = store.study(study_id).spec
        self.spec = json.dumps({"study": study_id, **{k: spec[k] for k in SPEC_KEYS}})

    def get_trial(self, trial_id: str) -> kt.engine.trial.Trial:
        if trial_id == SPEC_TRIAL:
            hp = kt.HyperParameters()
            hp.Fixed("search", self.spec)
            return kt.engine.trial.Trial(hp, trial_id=SPEC_TRIAL, status=STOPPED)
        return super().get_trial(trial_id)

    def create_trial(self, tuner_id: str) -> kt.engine.trial.Trial:
        if self.stop is None and self.clock.cancel.is_set():
            self.stop = SearchStopped("cancelled", "Cancelled")
        elif self.stop is None and self.clock.out_of_time():
            self.stop = SearchStopped("out_of_time", "The time budget ran out")
        if self.stop is not None:
            self.tuner_ids.discard(tuner_id)
            return kt.engine.trial.Trial(self.get_space(), status=STOPPED)
        trial = super().create_trial(tuner_id)
        if trial.status == RUNNING:
            self._start(trial, tuner_id)
        return trial

    def _start(self, trial: kt.engine.trial.Trial, tuner_id: str) -> None:
        cfg = self.hypermodel.config(trial.hyperparameters)
        pid = tuner_id.rpartition(":")[2]
        trial_id = search_store.start_trial(
            self.store,
            self.study_id,
            trial.trial_id,
            cfg,
            int(pid) if pid.isdigit() else None,
            tuner_id,
        )
        parent = trial.hyperparameters.values.get("tuner/trial_id")
        if parent is not None:
            start = int(trial.hyperparameters.values.get("tuner/initial_epoch", 0))
            search_store.set_parent(self.store, trial_id, self.live.get(parent), start - 1)
        self.live[trial.trial_id] = trial_id

    def update_trial(self, trial_id: str, metrics: Any, step: int = 0) -> Any:
        metrics = {k: float(v) for k, v in dict(metrics).items()}
        status = super().update_trial(trial_id, metrics, step=step)
        seconds = metrics.pop(EPOCH_SECONDS, 0.0)
        if trial_id in self.live:
            self.store.add_epoch(self.live[trial_id], int(step), metrics, seconds)
        return status

    def end_trial(self, trial: kt.engine.trial.Trial) -> None:
        super().end_trial(trial)
        if trial.trial_id not in self.live:
            return
        store_id = self.live[trial.trial_id]
        ended = self.trials[trial.trial_id]
        executions = trial_executions(self.hypermodel.base, self.settings)
        pruned = getattr(self, "pruned", {}).get(trial.trial_id)  # an oracle that stops trials
        finish_store_trial(
            self.store, store_id, trial.status, trial.message, ended, executions, pruned
        )
        if self.on_trial is not None:
            self.on_trial(store_id)

    def beat(self) -> None:
        """Heartbeats for the store trials that tuners are running now."""
        for trial in list(self.ongoing_trials.values()):
            if trial.trial_id in self.live:
                self.store.heartbeat(self.live[trial.trial_id])


def serve_as_chief(
    make_tuner: Callable[..., Any],
    store: Store,
    study_id: int,
    root: Path,
    clock: SearchClock,
    settings: SearchSettings,
    hypermodel: SearchHyperModel,
    address: tuple[str, int],
    on_trial: Callable[[int], None] | None,
) -> Any:
    """Serve the search's oracle until every trial is done; return the chief's tuner.

    Raises:
        SearchStopped: when the time budget or a cancel request ended the search.
    """
    host, port = address
    with environment(**{ENV_ID: "chief", ENV_IP: host, ENV_PORT: str(port)}):
        tuner = make_tuner(store, study_id, root, clock, settings, hypermodel)
        oracle = compat.mix_into(tuner.oracle, StoreOracleMixin, "Store")
        oracle.attach(store, study_id, clock, hypermodel, settings, on_trial)
        heartbeat = Heartbeat(oracle.beat, 1.0, f"trial-beats-{study_id}")
        heartbeat.start()
        try:
            tuner.search()  # blocks while the oracle serves, until all trials are done
        finally:
            heartbeat.stop()
    tuner.stopped = oracle.stop
    return tuner


def fetch_search(
    host: str, port: int, study_id: int, timeout_s: float = SPEC_TIMEOUT_S
) -> tuple[RunConfig, SearchSpace, SearchSettings]:
    """Ask the chief at ``host:port`` for its search's base config, space and settings.

    Args:
        host: The chief's host name or address.
        port: The port its oracle listens on.
        study_id: The search the caller means to join; the chief's must be the same.
        timeout_s: How long to wait for the chief to answer.

    Returns:
        The search's base config, space and settings, as the chief's store holds them.

    Raises:
        ConfigError: on ``--join`` when no chief answers in time, on ``--study`` when the
            chief serves another search.
    """
    try:
        answer = compat.chief_trial(host, port, SPEC_TRIAL, timeout_s)
    except grpc.RpcError as exc:
        raise ConfigError(
            "--join",
            f"no search's chief answered at {host}:{port} within {timeout_s:.0f} s "
            f"({exc.code().name}); check that the search runs with --listen on that "
            "address and that this machine can reach the port.",
        ) from None
    values = answer.hyperparameters.values
    spec = json.loads(values["search"])
    if spec["study"] != study_id:
        raise ConfigError(
            "--study", f"the chief at {host}:{port} runs search {spec['study']}, not {study_id}."
        )
    return (
        RunConfig.from_dict(spec["base"]),
        SearchSpace.from_list(spec["space"]),
        SearchSettings.from_dict(spec["settings"]),
    )


def join(host: str, port: int, study_id: int, root: Path | None = None) -> None:
    """Run trials for the chief at ``host:port`` until it has none left.

    Raises:
        ConfigError: when no chief answers, or it runs another search (:func:`fetch_search`).
    """
    from core.engine.search.tuner import make_tuner

    root = root or paths.cache_dir()
    base, space, settings = fetch_search(host, port, study_id)
    store = open_store(root)  # this machine's; the chief's oracle writes its own
    hypermodel = SearchHyperModel(base, space, settings, root)
    tuner_id = f"{socket.gethostname()}:{os.getpid()}"
    with environment(**{ENV_ID: tuner_id, ENV_IP: host, ENV_PORT: str(port)}):
        tuner = make_tuner(store, study_id, root, None, settings, hypermodel)
        tuner.search(verbose=0)
