"""Run a search with keras-tuner's own tuners, streaming every trial and epoch into the store.

``run_search(store, study_id, root)`` builds the search's tuner (``RandomSearch``,
``GridSearch``, ``BayesianOptimization`` or ``Hyperband``, each subclassed once by
:class:`StoreTunerMixin`) on its project folder ``cache/tuning/<study>/`` with
``overwrite=False``, so a second call goes on where the first stopped: keras-tuner keeps
finished trials and runs the one left running again. Beyond keras-tuner:

* each execution of a trial trains through the one trial path (``core.engine.executor``) with
  a checkpoint per epoch, so a trial run again after a kill or a time-out continues from its
  last finished epoch;
* every trial is one store trial from the moment it starts (the same one when it is run
  again), its epochs written as they finish, its worker (``host:pid``) recorded;
* the time budget is checked after every epoch and before every trial; when it runs out the
  running trial stops (to be continued on Resume) and the search ends ``out_of_time`` with a
  sentence saying what was left undone; a cancel request ends it the same way;
* the Keras session is cleared between trials (keras-tuner does so before each build), so
  memory stays flat;
* when the search ends, the ``keep_top`` best trials are tested and saved like any run
  (``core.engine.search.keep``); once it is done, the other trials' weights and checkpoints
  are deleted.

The tuner itself is ``core.engine.search.tuner``. ``python -m core.worker.search_child`` runs a
claimed search in a process of its own. This module imports TensorFlow and keras-tuner; only
worker processes use it.
"""

from __future__ import annotations

import gc
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import keras

from core.engine import devices
from core.engine.search.hypermodel import SearchHyperModel
from core.engine.search.keep import keep_best
from core.engine.search.parts import (
    SearchClock,
    SearchStopped,
    environment,
)
from core.engine.search.tuner import make_tuner
from core.store import Status, Store, paths
from core.store import searches as search_store
from core.store.searches import search_parts

devices.freeze_imported_objects()  # keras-tuner's too (see core.engine.devices)


def run_search(
    store: Store,
    study_id: int,
    root: Path | None = None,
    on_trial: Callable[[int], None] | None = None,
    chief: tuple[str, int] | None = None,
    trials_per_process: int | None = None,
    handover_mib: float | None = None,
) -> str:
    """Run (or go on with) a search already marked running; return the state it ends in.

    Any error ends the search ``failed`` with a message; nothing is raised.

    Args:
        store: The store.
        study_id: The search, claimed by this process (``core.store.searches.claim``).
        root: The cache folder (datasets, the project folder, artifacts).
        on_trial: Called with the store id of each trial as it ends.
        chief: ``(host, port)`` to serve the search's oracle on, as keras-tuner's chief, to
            tuners that join it (``core.engine.search.distributed``) instead of training here.
        trials_per_process: Stop, queued again, after this many trials (between trials), so
            a fresh process goes on (``core.worker.search_child``).
        handover_mib: Stop so too, between trials, once this process's memory has grown
            this many MiB since its first trial ended.

    Returns:
        ``done``, ``out_of_time``, ``cancelled``, ``failed``, or ``queued`` when
        ``trials_per_process`` trials ran or memory grew by ``handover_mib``.
    """
    root = root or paths.cache_dir()
    base, space, settings = search_parts(store, study_id)
    progress = search_store.read(store, study_id).progress
    budget = settings.time_budget_s
    if budget is not None:
        budget += float(progress.get("extra_budget_s", 0.0))
    clock = SearchClock(store, study_id, budget)
    hypermodel = SearchHyperModel(base, space, settings, root)
    tuner = None
    state, note, error, detail = "done", "", None, None
    with clock:
        try:
            if chief is not None:
                from core.engine.search.distributed import serve_as_chief

                tuner = serve_as_chief(
                    make_tuner, store, study_id, root, clock, settings, hypermodel, chief, on_trial
                )
                if tuner.stopped is not None:
                    raise tuner.stopped
            else:
                # One tuner id in every mode, so the project folder reloads whether the search
                # ran here or as a chief before.
                with environment(KERASTUNER_TUNER_ID="chief"):
                    tuner = make_tuner(store, study_id, root, clock, settings, hypermodel)
                tuner.on_trial = on_trial
                tuner.trials_per_process = trials_per_process
                tuner.handover_mib = handover_mib
                tuner.search(verbose=0)
        except SearchStopped as stop:
            state = stop.state
            note = "" if state == "queued" else _left_undone(store, study_id, stop, tuner)
        except Exception as exc:  # noqa: BLE001 - the search ends failed, with the reason
            state, error = "failed", f"{type(exc).__name__}: {str(exc).strip()[:300]}"
            detail = traceback.format_exc()[-4000:]
        finally:
            _stop_running(store, tuner, state)
        if state == "done":
            state, error = _failed_whole(store, study_id) or (state, error)
        if tuner is not None and state not in ("failed", "queued"):
            try:
                keep_best(store, study_id, tuner, settings, delete_rest=state == "done")
            except Exception as exc:  # noqa: BLE001 - e.g. weights left on another machine
                error = f"The best trials could not be saved: {type(exc).__name__}: {exc}"[:400]
    search_store.set_state(
        store,
        study_id,
        state,
        {
            "used_s": clock.used_s,
            "note": note,
            "error": error,
            "traceback": detail,
            "cancel": False,
        },
    )
    keras.backend.clear_session()
    gc.collect()
    return state


def _failed_whole(store: Store, study_id: int) -> tuple[str, str] | None:
    """``("failed", why)`` when a search ran trials and none of them completed, else None.

    Each trial keeps its own error; the search says only that none came through.
    """
    trials = store.trials([study_id])
    if not trials or any(t.status == Status.COMPLETED for t in trials):
        return None
    return "failed", f"Every trial failed ({len(trials)} of {len(trials)})"


def _stop_running(store: Store, tuner: Any, state: str) -> None:
    """The trial a stop or an error interrupted: marked so, to be continued on Resume."""
    if tuner is None or tuner.running_trial is None:
        return
    trial_id = tuner.running_trial
    tuner.close_monitor()
    done = len(store.epochs(trial_id))
    reason = {
        "out_of_time": "The time budget ran out",
        "cancelled": "The search was cancelled",
    }.get(state, "The search stopped")
    store.finish_trial(
        trial_id,
        Status.INTERRUPTED,
        error=f"{reason} after {done} finished epoch(s); Resume continues from there.",
    )


def _left_undone(store: Store, study_id: int, stop: SearchStopped, tuner: Any) -> str:
    """One sentence: how far the search got and what it did not do."""
    spec = store.study(study_id).spec
    planned = int(spec.get("planned_trials") or 0)
    trials = store.trials([study_id])
    done = sum(t.status == Status.COMPLETED for t in trials)
    running = tuner is not None and tuner.running_trial is not None
    sentence = f"{stop.note} after {done} of {planned} planned trials"
    if running:
        number = store.trial(tuner.running_trial).number
        sentence += f"; trial #{number} was stopped mid-way and continues on Resume"
    left = max(0, planned - done - (1 if running else 0))
    sentence += f"; {left} trial(s) were not started."
    return sentence
