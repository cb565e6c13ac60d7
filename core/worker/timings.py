"""How this machine spent its time on past trials, read back from the store.

Every finished trial leaves its start (``started_at``), the end of each epoch with that epoch's
seconds, and its end (``finished_at``); its process is named with the time it started
(``worker_started``). From these a trial's time splits into the phases a duration estimate
adds up (``core.worker.estimates``):

* **start-up**: the process's own start to its first trial's first epoch (Python, the
  TensorFlow import, the data, that trial's build), for the first trial each process trained
  when it began that trial at once (a worker that waited for work is left out);
* **build**: the trial's start to its first epoch (the model built, compiled and checked,
  its data pipeline made), for trials that were not the first in their process (a command
  line run's first trial also imports TensorFlow inside its own time);
* **epochs**: the median epoch after the first of each fit, plus the median pause between
  epochs (the checkpoint and logs written);
* **tracing**: how much longer the first epoch of each fit took (TensorFlow traces the train
  and test steps of every new model; in a process's first trial it also sets itself up);
* **finish**: the last epoch to the trial's end (testing and saving a run; keras-tuner's
  bookkeeping for a search trial).

Nothing here imports TensorFlow.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass

from core.spec.config import ConfigError, RunConfig
from core.store import Epoch, Status, Store, Trial

# A process that began its first trial later than this after it started had been waiting for
# work (an idle worker): its start-up is not what it took to get going.
PROMPT_S = 60.0


@dataclass(frozen=True)
class TrialTiming:
    """The phases of one completed trial (see the module docstring); None where unknown.

    Attributes:
        config: Its config.
        search: A trial of a search (keras-tuner ran it), else a single run.
        first: The first trial its process trained.
        epochs: Epochs it trained.
        epoch_s: Its median epoch after the first of each fit.
        pause_s: Its median pause between two epochs.
        tracing_s: Its first epochs' extra time over ``epoch_s``, per fit.
        build_s: Its start to its first epoch, when it was not the first in its process.
        finish_s: Its last epoch to its end.
        since_start_s: Its process's start to its first epoch, for the first trial of a process
            that began it within ``PROMPT_S`` of starting.
    """

    config: RunConfig
    search: bool
    first: bool
    epochs: int
    epoch_s: float | None
    pause_s: float | None
    tracing_s: float | None
    build_s: float | None
    finish_s: float | None
    since_start_s: float | None


def past_timings(store: Store, limit: int = 200) -> list[TrialTiming]:
    """The phases of the latest ``limit`` completed trials that trained at least one epoch."""
    trials = store.trials(statuses=[Status.COMPLETED], limit=limit)
    if not trials:
        return []
    epochs = store.epochs_by_trial([t.id for t in trials])
    firsts = _first_in_process(trials)
    configs: dict[str, RunConfig | None] = {}  # a search's trials share a few configs
    found = []
    for trial in trials:
        rows = epochs.get(trial.id)
        if trial.config_hash not in configs:
            configs[trial.config_hash] = _config(trial)
        cfg = configs[trial.config_hash]
        if rows and cfg is not None:
            found.append(_timing(trial, cfg, rows, trial.id in firsts))
    return found


def _config(trial: Trial) -> RunConfig | None:
    try:
        return RunConfig.from_dict(trial.config)
    except ConfigError:  # written by another version of the app
        return None


def _first_in_process(trials: list[Trial]) -> set[int]:
    """The trials that were the first their process trained."""
    first: dict[tuple[str, float], Trial] = {}
    for trial in trials:
        if trial.worker is None or trial.worker_started is None:
            continue
        key = (trial.worker, trial.worker_started)
        if key not in first or _began(trial) < _began(first[key]):
            first[key] = trial
    return {t.id for t in first.values()}


def _began(trial: Trial) -> float:
    # A command line search trains its baseline without claiming it: no start is recorded.
    return trial.started_at if trial.started_at is not None else trial.created_at


def _timing(trial: Trial, cfg: RunConfig, rows: list[Epoch], first: bool) -> TrialTiming:
    starts = _fit_starts(rows, cfg.epochs)
    later = [e.seconds for e in rows if e.epoch not in starts]
    epoch_s = statistics.median(later) if later else None
    tracing = None
    if epoch_s is not None:
        extra = [max(0.0, e.seconds - epoch_s) for e in rows if e.epoch in starts]
        tracing = statistics.fmean(extra)
    pauses = [
        (b.recorded_at - b.seconds) - a.recorded_at
        for a, b in zip(rows, rows[1:], strict=False)
        if b.epoch not in starts
    ]
    fit_begin = rows[0].recorded_at - rows[0].seconds
    build = None
    if trial.started_at is not None and not first:
        build = max(0.0, fit_begin - trial.started_at)
    since_start = None
    started = trial.worker_started
    if first and started is not None and _began(trial) - started <= PROMPT_S:
        since_start = max(0.0, fit_begin - started)
    finish = None
    if trial.finished_at is not None:
        finish = max(0.0, trial.finished_at - rows[-1].recorded_at)
    return TrialTiming(
        config=cfg,
        search="tuner_trial_id" in trial.results,
        first=first,
        epochs=len(rows),
        epoch_s=epoch_s,
        pause_s=max(0.0, statistics.median(pauses)) if pauses else None,
        tracing_s=tracing,
        build_s=build,
        finish_s=finish,
        since_start_s=since_start,
    )


def _fit_starts(rows: list[Epoch], epochs: int) -> set[int]:
    """The epoch numbers each fit began with: the first row, and one per later execution.

    A search trial's execution k numbers its rows from k × its epochs (a Hyperband round
    from its first epoch on), so later executions begin a whole number of ``epochs`` on.
    """
    first = rows[0].epoch
    return {e.epoch for e in rows if (e.epoch - first) % max(1, epochs) == 0}
