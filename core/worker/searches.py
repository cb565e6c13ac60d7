"""Tune searches as the app sees them: the search space, launching, resuming and watching.

The model of a search (``Dimension``, ``SearchSpace``, ``SearchSettings``, the presets of reports
000, 002 and 004, ``validate_search``) lives in ``core.spec.search_space`` and is re-exported here;
this module adds what the Tune page and the CLI call. Nothing here imports TensorFlow.

Contract with the store:

* A search is a study of kind ``search``. ``study.spec`` holds ``tuner``, ``space`` (the
  dimensions as JSON data), ``objective`` (``{"name": "val_accuracy", "direction": "max"}``),
  ``max_trials``, ``executions_per_trial``, ``hyperband`` (``max_epochs``, ``factor``,
  ``iterations``), ``early_stopping_patience``, ``time_budget_s``, ``keep_top``, ``settings``
  (every setting, for resuming), ``base`` (the base config dict), ``planned_trials`` and
  ``baseline_study`` (a single-run study, queued at launch, that trains the base config
  untuned).
* Each keras-tuner trial becomes one store trial as soon as it starts: ``number`` = order
  started, ``config`` = the full run config with the trial's values, ``worker`` = ``host:pid``;
  epochs arrive through ``Store.add_epoch``. Its ``results`` hold ``hp`` (searched key to
  value), ``objective`` (the best value of the objective), ``tuner_trial_id``, ``bracket`` and
  ``round`` (Hyperband), ``best_step``, ``executions``, ``epochs_run``, ``seconds_per_epoch``,
  ``worker_rss_mib`` (memory of the process that trained it) and, for the ``keep_top`` best
  once the search ends, ``kept: true``, ``rank``, the test metrics and ``artifacts`` like any
  run. With ``executions_per_trial`` > 1, execution k's epochs are numbered from k × epochs.
* :func:`search_state` says where the search is (see ``core.store.searches.STATES``).

Launch with :func:`launch_search`; a worker (``core.worker``) runs it with keras-tuner
(``core.engine.search.run``). :func:`resume_search` queues an interrupted, timed-out or
cancelled search again, optionally with more time; :func:`cancel_search` stops one. How long a
search will take is ``core.worker.estimates``.
"""

from __future__ import annotations

import math
import os
import statistics
from typing import Any

from core.data.checks import check_configs
from core.data.names import run_title
from core.data.weights import check_weights
from core.spec.config import ConfigError, RunConfig, joined
from core.spec.plan import plan_run
from core.spec.search_space import (
    KINDS,
    OBJECTIVES,
    TUNERS,
    Dimension,
    Preset,
    SearchSettings,
    SearchSpace,
    hyperband_plan,
    planned_trials,
    presets,
    search_problems,
    trial_config,
    validate_search,
)
from core.store import Status, Store, Trial
from core.store import searches as search_store
from core.store.searches import FINAL_STATES, SEARCH_KIND, STATES, search_parts

__all__ = [
    "FINAL_STATES",
    "KINDS",
    "OBJECTIVES",
    "SEARCH_KIND",
    "STATES",
    "TUNERS",
    "Dimension",
    "Preset",
    "SearchSettings",
    "SearchSpace",
    "cancel_search",
    "check_files",
    "checked_search",
    "hyperband_plan",
    "launch_search",
    "planned_trials",
    "presets",
    "resume_search",
    "search_parts",
    "search_state",
    "trial_config",
    "validate_search",
]

RESUMABLE = ("interrupted", "out_of_time", "cancelled", "failed")


def launch_search(
    store: Store,
    base: RunConfig,
    space: SearchSpace,
    settings: SearchSettings,
    name: str | None = None,
    baseline: bool = True,
    run_here: bool = False,
) -> int:
    """Validate a search and queue it (and, first, its untuned baseline run).

    Args:
        store: The store.
        base: The config every trial starts from.
        space: What varies.
        settings: The tuner and its limits.
        name: Name shown in the app (default: tuner and base model).
        baseline: Also queue a single run of ``base``, to compare the best trial against.
        run_here: This process runs the search and its baseline itself (the CLI does): both
            are its own from the start, and no worker takes them.

    Returns:
        The search's study id.

    Raises:
        ConfigError: naming each bad field (or the dataset or ImageNet weights file that is
            missing on this machine), the first with the others in ``more``; nothing is queued
            then.
    """
    base = checked_search(base, space, settings)
    title = name or f"{TUNERS[settings.tuner]}: {run_title(base.to_dict())}"
    baseline_study = None
    if baseline:
        # The base config as a trial would train it, but with nothing searched: the same
        # fixed values and early stopping, so the comparison is like for like.
        untuned = trial_config(space, settings, base, {})
        plan = plan_run(untuned, f"{title} · baseline")
        baseline_study, _ = store.create_study(
            plan.name,
            plan.kind,
            plan.configs,
            spec={"source": "search baseline"},
            reserve_for=os.getpid() if run_here else None,
        )
    spec = {
        "tuner": settings.tuner,
        "space": space.to_list(),
        "objective": {"name": settings.objective, "direction": settings.direction},
        "max_trials": settings.max_trials,
        "executions_per_trial": settings.executions_per_trial,
        "hyperband": {
            "max_epochs": settings.max_epochs,
            "factor": settings.factor,
            "iterations": settings.iterations,
        },
        "early_stopping_patience": settings.early_stopping_patience,
        "time_budget_s": settings.time_budget_s,
        "keep_top": settings.keep_top,
        "settings": settings.to_dict(),
        "base": base.to_dict(),
        "planned_trials": planned_trials(space, settings),
        "baseline_study": baseline_study,
    }
    study_id, _ = store.create_study(title, SEARCH_KIND, [], spec=spec)
    state = "running" if run_here else "queued"
    progress = {"used_s": 0.0, "extra_budget_s": 0.0}
    search_store.set_state(store, study_id, state, progress, here=run_here)
    return study_id


def checked_search(base: RunConfig, space: SearchSpace, settings: SearchSettings) -> RunConfig:
    """Check a search, and its files, finding every problem at once.

    Where the space itself is sound, every corner of it is checked against the dataset
    (:func:`check_files`); where it is not, the base config alone is, so one press names the
    dataset or weights file beside the space's problems.

    Returns:
        The base config as the search will run it.

    Raises:
        ConfigError: naming each field to change (the first, with the others in ``more``).
    """
    problems = search_problems(base, space, settings)
    try:
        if problems:
            check_files(base, SearchSpace())
        else:
            base = check_files(base, space)
    except ConfigError as exc:
        named = {p.field for p in problems}
        problems.extend(p for p in exc.problems if p.field not in named)
    if problems:
        raise joined(problems)
    return base


def check_files(base: RunConfig, space: SearchSpace) -> RunConfig:
    """Check the search against its dataset, and that it and every backbone's weights are here.

    Every corner of the space (each searched key at each of its extremes) is checked against
    the dataset, as a single run of it would be.

    Returns:
        The base config as the search will run it (a folder dataset as its absolute path).

    Raises:
        ConfigError: naming the field to change, or the missing file and where to put it.
    """
    corners = [
        space.config_for({dim.key: value}, base)
        for dim in space.searched
        for value in dim.corners()
    ]
    base, *corners = check_configs([base, *corners])
    for cfg in (base, *corners):
        check_weights(cfg)
    return base


def resume_search(
    store: Store, study_id: int, extra_budget_s: float | None = None, run_here: bool = False
) -> None:
    """Queue a stopped search again; a worker goes on from its keras-tuner project folder.

    Args:
        store: The store.
        study_id: The search.
        extra_budget_s: Seconds added to its time budget (needed when the budget is spent).
        run_here: This process goes on with it itself (the CLI does); no worker takes it.

    Raises:
        ConfigError: if the study is not a search, is still queued or running, finished, or
            has no time left and none is added.
    """
    if extra_budget_s is not None and not extra_budget_s > 0:
        raise ConfigError("extra_budget_s", "give a positive number of seconds to add.")
    _, _, settings = search_parts(store, study_id)
    row = _checked_row(store, study_id)
    if row.state not in RESUMABLE:
        what = {"done": "has finished"}.get(row.state, f"is {row.state or 'not started'}")
        raise ConfigError("study", f"search {study_id} {what}; only a stopped search resumes.")
    extra = float(row.progress.get("extra_budget_s", 0.0)) + (extra_budget_s or 0.0)
    if settings.time_budget_s is not None:
        left = settings.time_budget_s + extra - float(row.progress.get("used_s", 0.0))
        if left <= 0:
            raise ConfigError(
                "time_budget_s",
                f"search {study_id} has used its time budget; add time to resume it.",
            )
    search_store.set_state(
        store,
        study_id,
        "running" if run_here else "queued",
        {"extra_budget_s": extra, "cancel": False, "note": ""},
        here=run_here,
    )


def cancel_search(store: Store, study_id: int) -> None:
    """Stop a search: at once if queued, else at the end of its running trial's epoch.

    Raises:
        ConfigError: if the study is not a search.
    """
    search_parts(store, study_id)
    row = _checked_row(store, study_id)
    if row.state == "queued":
        search_store.set_state(store, study_id, "cancelled", {"note": "Cancelled before start."})
    elif row.state == "running":
        search_store.update_progress(store, study_id, cancel=True)


def search_state(store: Store, study_id: int, trials: list[Trial] | None = None) -> dict[str, Any]:
    """Where a search stands, for the page, the CLI and the tests.

    Args:
        store: The store.
        study_id: The search.
        trials: The search's trials, where the caller has just read them (a page that
            draws them too reads them once).

    Returns:
        ``state``; ``trials_done`` (finished trials), ``trials_planned``, ``trials_running``,
        ``trials_interrupted``; ``best_trial`` (store id), ``best_value`` and ``best_epochs``
        (the epochs the tuner gave it); ``schedule_epochs`` (the epochs a trial gets when the
        tuner trains it fully: Hyperband's ``max_epochs``, else the best trial's own);
        ``baseline_study``, ``baseline_trial``, ``baseline_value`` (the finished baseline's
        best objective over its epochs, else None) and ``baseline_epochs``;
        ``baseline_better`` (True when the baseline beats every trial, None until both have
        a score); ``budget_s`` (None without a time budget), ``used_s``, ``left_s``; ``note``
        (what was left undone when the budget or a stop ended it); ``error``; ``objective``.

    Raises:
        KeyError: if there is no such study.
    """
    _, _, settings = search_parts(store, study_id)
    spec = store.study(study_id).spec
    row = _checked_row(store, study_id)
    trials = store.trials([study_id]) if trials is None else trials
    finished = [t for t in trials if t.status.finished and t.status != Status.INTERRUPTED]
    scored = [t for t in trials if t.results.get("objective") is not None]
    best = None
    if scored:
        pick = max if settings.direction == "max" else min
        best = pick(scored, key=lambda t: float(t.results["objective"]))
        # On a tie, the trial the tuner ranked first (and saved) is the best one.
        first = [t for t in scored if t.results.get("rank") == 1]
        if first and float(first[0].results["objective"]) == float(best.results["objective"]):
            best = first[0]
    budget = settings.time_budget_s
    if budget is not None:
        budget += float(row.progress.get("extra_budget_s", 0.0))
    used = float(row.progress.get("used_s", 0.0))
    best_value = float(best.results["objective"]) if best else None
    baseline = _baseline(store, spec.get("baseline_study"), settings)
    best_epochs = _epochs(best.config) if best else None
    schedule = settings.max_epochs if settings.tuner == "hyperband" else best_epochs
    better = None
    if best_value is not None and baseline["baseline_value"] is not None:
        gap = baseline["baseline_value"] - best_value
        better = gap > 0 if settings.direction == "max" else gap < 0
    return {
        "study": study_id,
        "state": row.state,
        "trials_done": len(finished),
        "trials_planned": spec.get("planned_trials", planned_trials(*_space_and(spec, settings))),
        "trials_running": sum(t.status == Status.RUNNING for t in trials),
        "trials_interrupted": sum(t.status == Status.INTERRUPTED for t in trials),
        "best_trial": best.id if best else None,
        "best_value": best_value,
        "best_epochs": best_epochs,
        "schedule_epochs": schedule,
        "objective": {"name": settings.objective, "direction": settings.direction},
        "budget_s": budget,
        "used_s": used,
        "left_s": None if budget is None else max(0.0, budget - used),
        "note": row.progress.get("note", ""),
        "error": row.progress.get("error"),
        "baseline_study": spec.get("baseline_study"),
        **baseline,
        "baseline_better": better,
    }


def _baseline(store: Store, study_id: int | None, settings: SearchSettings) -> dict[str, Any]:
    """The baseline run's id (its first fold's, cross-validated), its best objective over its
    epochs once it has finished (the folds' mean), and its epochs."""
    trials = store.trials(study_ids=[int(study_id)]) if study_id is not None else []
    if not trials:
        return {"baseline_trial": None, "baseline_value": None, "baseline_epochs": None}
    trial = min(trials, key=lambda t: t.number)
    # A cross-validated search's baseline is a k-fold study: its value is the mean of its
    # folds' bests, as each trial's objective is, once every fold has finished.
    bests = [_best_seen(store, t, settings) for t in trials]
    known = [v for v in bests if v is not None]
    value = None
    if known and len(known) == len(trials):
        value = known[0] if len(known) == 1 else float(statistics.fmean(known))
    return {
        "baseline_trial": trial.id,
        "baseline_value": value,
        "baseline_epochs": _epochs(trial.config),
    }


def _best_seen(store: Store, trial: Trial, settings: SearchSettings) -> float | None:
    """A finished run's best objective over its epochs, else None."""
    if trial.status != Status.COMPLETED:
        return None
    seen = [e.metrics.get(settings.objective) for e in store.epochs(trial.id)]
    seen = [float(v) for v in seen if isinstance(v, int | float) and math.isfinite(v)]
    if not seen:
        return None
    return max(seen) if settings.direction == "max" else min(seen)


def _epochs(config: dict[str, Any]) -> int | None:
    """A config's ``epochs`` (for a Hyperband trial, its round's ``tuner/epochs``)."""
    value = config.get("epochs")
    return int(value) if isinstance(value, int | float) else None


def _checked_row(store: Store, study_id: int) -> search_store.SearchRow:
    """The search's row; a running search whose worker went silent reads as interrupted."""
    search_store.reap(store)  # one read without the write lock when no search went silent
    return search_store.read(store, study_id)


def _space_and(spec: dict[str, Any], settings: SearchSettings) -> tuple[SearchSpace, Any]:
    return SearchSpace.from_list(spec["space"]), settings
