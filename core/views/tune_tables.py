"""The tables behind the Tune page: one row per trial of a search, importance, the baseline.

A search is a study of kind ``search``: its spec names the objective (``{"name": ..., "direction":
...}``), the search space, and the single-run study that trained the base config untuned
(``baseline_study``). Each keras-tuner trial is one store trial; its ``results`` hold the searched
values (``hp``), the objective and, for Hyperband, the bracket and round once it ends. The
figures built on these tables are in ``core.views.tune_charts``. Nothing here imports Streamlit
or TensorFlow.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from core.spec.formats import MISSING, is_missing, loss, percent
from core.spec.params import PARAM_BY_KEY
from core.store import Epoch, Status, Store, Study, Trial
from core.views.runs import config_diff

DEFAULT_OBJECTIVE = {"name": "val_accuracy", "direction": "max"}
# The fixed columns of ``trial_frame``; the searched keys sit between ``status`` and ``objective``.
LEAD_COLUMNS = ["trial", "number", "status"]
TAIL_COLUMNS = [
    "objective",
    "objective_std",
    "budget",
    "epochs_run",
    "stopped",
    "bracket",
    "round",
    "duration_s",
    "worker",
    "curve",
    "started_at",
    "finished_at",
]
# keras-tuner's own bookkeeping values (Hyperband's epochs, bracket, round...), never searched.
_TUNER_PREFIX = "tuner/"
MIN_TRIALS_FOR_IMPORTANCE = 4
_ITEM_KEY = re.compile(r"^(\w+)\[(\d+)\]$")


@dataclass(frozen=True)
class Objective:
    """What the search optimizes: a metric name and whether higher (``max``) is better."""

    name: str
    direction: str

    @property
    def maximize(self) -> bool:
        """True when a higher value is better."""
        return self.direction == "max"

    def best(self, values: Sequence[float]) -> float | None:
        """The best of ``values`` (None when there are none)."""
        clean = [v for v in values if v is not None and math.isfinite(v)]
        if not clean:
            return None
        return max(clean) if self.maximize else min(clean)


def objective_of(study: Study) -> Objective:
    """The search's objective from its spec (``val_accuracy``, maximized, if it names none)."""
    raw = study.spec.get("objective") or DEFAULT_OBJECTIVE
    if isinstance(raw, str):
        return Objective(raw, "min" if raw.endswith("loss") else "max")
    return Objective(str(raw.get("name", "val_accuracy")), str(raw.get("direction", "max")))


def searched_keys(study: Study, trials: Sequence[Trial] = ()) -> list[str]:
    """The keys the search varies: those of the space that are not fixed, then any other key
    a finished trial reports in its ``hp``; in the space's order."""
    keys = [key for key, dim in _space(study).items() if not _is_fixed(dim)]
    for trial in sorted(trials, key=lambda t: t.number):
        for key in trial.results.get("hp", {}) or {}:
            if key not in keys and not key.startswith(_TUNER_PREFIX):
                keys.append(key)
    return keys


def _space(study: Study) -> dict[str, Any]:
    """The spec's space as key -> dimension (it is stored as a list of ``{"key": ...}``)."""
    space = study.spec.get("space") or {}
    if isinstance(space, list):
        return {d["key"]: d for d in space if isinstance(d, dict) and "key" in d}
    return space if isinstance(space, dict) else {}


def _is_fixed(dim: Any) -> bool:
    """True for a dimension with one value (a plain value, or a dict of kind ``fixed``)."""
    if not isinstance(dim, dict):
        return True
    if dim.get("kind", dim.get("mode")) == "fixed":
        return True
    values = dim.get("values")
    return isinstance(values, list) and len(values) == 1


def is_log(study: Study, key: str) -> bool:
    """True when a key is searched (and best shown) on a log scale."""
    dim = _space(study).get(key)
    if isinstance(dim, dict) and ("log" in dim or "sampling" in dim):
        return bool(dim.get("log")) or dim.get("sampling") == "log"
    param = PARAM_BY_KEY.get(key)
    return bool(param and param.log)


def searched_value(trial: Trial, key: str) -> Any:
    """The value a trial tried for ``key``: from its ``hp``, else read off its config.

    A key such as ``filters[1]`` names one item of a list setting.
    """
    hp = trial.results.get("hp") or {}
    if key in hp:
        return hp[key]
    cfg = trial.config
    if key in cfg:
        value = cfg[key]
        return ",".join(map(str, value)) if isinstance(value, list) else value
    match = _ITEM_KEY.match(key)
    if match and isinstance(cfg.get(match.group(1)), list):
        items, position = cfg[match.group(1)], int(match.group(2))
        return items[position] if position < len(items) else None
    return None


def trial_objective(trial: Trial, epochs: Sequence[Epoch], objective: Objective) -> float | None:
    """A trial's objective: what the tuner recorded at its end, else the best epoch so far."""
    recorded = trial.results.get("objective")
    if isinstance(recorded, int | float) and math.isfinite(recorded):
        return float(recorded)
    return objective.best([e.metrics.get(objective.name) for e in epochs])


def fold_values(
    trial: Trial, epochs: Sequence[Epoch], objective: Objective
) -> list[float | None] | None:
    """Each fold's best objective in a cross-validated trial, else None.

    Fold n is the trial's execution n, whose epochs are numbered on from the folds before it
    (n × its epochs, as ``core.engine.search.tuner`` writes them); the tuner's objective is
    their mean. A fold not trained yet is None.
    """
    folds, per = int(trial.config.get("folds") or 1), int(trial.config.get("epochs") or 0)
    if folds < 2 or per < 1:
        return None
    return [
        objective.best([e.metrics.get(objective.name) for e in epochs if e.epoch // per == n])
        for n in range(folds)
    ]


def fold_spread(values: Sequence[float | None] | None) -> float | None:
    """The sample standard deviation of the folds' values, once at least two are known."""
    known = [v for v in values or () if v is not None]
    return float(np.std(known, ddof=1)) if len(known) >= 2 else None


def _curve_metric(objective: Objective) -> str:
    return objective.name if objective.name.startswith("val_") else "val_accuracy"


def _hyperband(trial: Trial, name: str) -> int | None:
    value = trial.results.get(name)
    if value is None:
        value = (trial.results.get("hp") or {}).get(_TUNER_PREFIX + name)
    return int(value) if isinstance(value, int | float) else None


def trial_budget(trial: Trial) -> int | None:
    """The epochs a trial was given to train its model: its config's ``epochs``.

    For Hyperband that is the round's ``tuner/epochs`` (2 in the first round of a 10-epoch
    schedule), counted from the model's start even when the trial goes on from an earlier
    round's model; early stopping can end it sooner.
    """
    value = trial.config.get("epochs")
    return int(value) if isinstance(value, int | float) else None


def _duration(trial: Trial, now: float) -> float | None:
    if trial.started_at is None:
        return None
    end = trial.finished_at if trial.finished_at is not None else now
    return max(0.0, end - trial.started_at)


def trial_frame(
    study: Study,
    trials: Sequence[Trial],
    epochs: Mapping[int, Sequence[Epoch]],
    now: float | None = None,
) -> pd.DataFrame:
    """The trial table of a search: one row per trial, in the order they started.

    Args:
        study: The search.
        trials: Its trials.
        epochs: Each trial's finished epochs (from ``core.store.epoch_reader.EpochReader``).
        now: The time running trials' durations count up to (default: now).

    Returns:
        Columns ``trial`` (store id), ``number`` (1-based), ``status``, one per searched key,
        ``objective`` (the trial's best; of a cross-validated search, the mean of its folds'
        bests), ``objective_std`` (their standard deviation, else None), ``budget`` (see
        :func:`trial_budget`),
        ``epochs_run`` (the epoch rows it wrote itself), ``stopped`` (why it ended before its
        epochs, :func:`stop_reason`), Hyperband's ``bracket`` and ``round``
        (None for other tuners), ``duration_s``, ``worker``, ``curve`` (the validation curve's
        values, for a sparkline), ``started_at`` and ``finished_at``.
    """
    now = time.time() if now is None else now
    objective = objective_of(study)
    keys = searched_keys(study, trials)
    curve_metric = _curve_metric(objective)
    rows = []
    for trial in sorted(trials, key=lambda t: (t.number, t.id)):
        mine = epochs.get(trial.id, [])
        row: dict[str, Any] = {
            "trial": trial.id,
            "number": trial.number + 1,
            "status": str(trial.status),
        }
        row.update({key: searched_value(trial, key) for key in keys})
        row.update(
            {
                "objective": trial_objective(trial, mine, objective),
                "objective_std": fold_spread(fold_values(trial, mine, objective)),
                "budget": trial_budget(trial),
                "epochs_run": len(mine),
                "stopped": stop_reason(trial, len(mine), objective),
                "bracket": _hyperband(trial, "bracket"),
                "round": _hyperband(trial, "round"),
                "duration_s": _duration(trial, now),
                "worker": trial.worker,
                "curve": [e.metrics[curve_metric] for e in mine if curve_metric in e.metrics],
                "started_at": trial.started_at,
                "finished_at": trial.finished_at,
            }
        )
        rows.append(row)
    return pd.DataFrame(rows, columns=[*LEAD_COLUMNS, *keys, *TAIL_COLUMNS])


def stop_reason(trial: Trial, epochs_run: int, objective: Objective) -> str | None:
    """Why a completed trial trained fewer epochs than it was given, in words; else None.

    Optuna's pruner: at which epoch, with which value, against which threshold (the worst value
    still kept among the trials of its bracket that reached the rung); early stopping: its
    patience.
    """
    if trial.status != Status.COMPLETED:
        return None
    pruned = trial.results.get("pruned")
    if pruned:
        said = f"pruned at epoch {pruned['epoch']}"
        if pruned.get("reason"):
            return f"{said}: {pruned['reason']}"
        if "threshold" not in pruned:
            return said
        show = loss if "loss" in objective.name else percent
        side = "below" if objective.maximize else "above"
        return (
            f"{said}: {show(pruned['value'])}, {side} the {show(pruned['threshold'])} needed "
            f"(best {pruned['kept']} of {pruned['compared']} went on)"
        )
    patience = trial.config.get("early_stopping_patience") or 0
    given = int(trial.config.get("epochs") or 0)
    if trial.parent_id is not None and trial.fork_epoch is not None:
        given -= trial.fork_epoch + 1  # Hyperband went on from an earlier round's model
    if patience and epochs_run < given:
        monitor = trial.config.get("early_stopping_monitor", "val_loss")
        return f"early stopping: no better {monitor} in {patience} epochs"
    return None


def finished_rows(frame: pd.DataFrame) -> pd.DataFrame:
    """The rows of a ``trial_frame`` the tuner learned from: completed, with an objective."""
    done = frame[(frame["status"] == str(Status.COMPLETED)) & frame["objective"].notna()]
    return done.reset_index(drop=True)


def best_row(frame: pd.DataFrame, objective: Objective) -> pd.Series | None:
    """The finished trial with the best objective (the first one on a tie), or None."""
    done = finished_rows(frame)
    if done.empty:
        return None
    column = done["objective"].astype(float)
    position = column.idxmax() if objective.maximize else column.idxmin()
    return done.loc[position]


def encode(values: pd.Series, log: bool) -> tuple[np.ndarray, list[Any] | None]:
    """A searched column as numbers for charts and models.

    Numbers stay numbers (log10 of them when ``log``); anything else becomes the position of
    its value in the sorted list of distinct values, which is returned as the second item
    (None for numbers).
    """
    numeric = pd.to_numeric(values, errors="coerce")
    if values.notna().any() and numeric.notna().sum() == values.notna().sum():
        data = numeric.astype(float).to_numpy()
        if log and (data[~np.isnan(data)] > 0).all():
            data = np.log10(data)
        return data, None
    levels = sorted({str(v) for v in values if v is not None and v == v})
    index = {level: i for i, level in enumerate(levels)}
    codes = [index[str(v)] if v is not None and v == v else np.nan for v in values]
    return np.asarray(codes, dtype=float), levels


@dataclass(frozen=True)
class Importance:
    """How much each searched key explains the objective, how sure that is, and how it was
    measured.

    Attributes:
        table: Columns ``parameter``, ``importance`` (its share; the shares add up to about
            1), ``low`` and ``high`` (the interval), largest first; empty when the searched
            values do not predict the objective well enough to name any parameter.
        title: What the chart shows, naming the trials' budget.
        method: How it was measured, in sentences for people.
        pair: One line on the strongest two-parameter interaction, when it is notable.
        verdict: Why no parameter is named, when ``table`` is empty.
        budget: The epochs of the trials it was measured on (Hyperband), else None.
        trials: How many trials it was measured on.
    """

    table: pd.DataFrame
    title: str
    method: str
    pair: str | None = None
    verdict: str | None = None
    budget: int | None = None
    trials: int = 0


def importance_rows(study: Study, frame: pd.DataFrame) -> tuple[pd.DataFrame, int | None]:
    """The finished trials importance is measured on, and their budget.

    A Hyperband search trains most trials for a few epochs and only the best for the full
    schedule; a 2-epoch score and a 10-epoch score do not measure the same thing, so only
    trials of one budget are taken: the most epochs that at least
    ``MIN_TRIALS_FOR_IMPORTANCE`` finished trials reached. Other tuners give every trial its
    own epochs (searched or not), so all finished trials count.

    Returns:
        The rows, and their budget (None for other tuners, or when no budget has enough).
    """
    done = finished_rows(frame)
    if study.spec.get("tuner") != "hyperband" or done["budget"].isna().all():
        return done, None
    counts = done["budget"].dropna().astype(int).value_counts()
    enough = sorted(b for b, c in counts.items() if c >= MIN_TRIALS_FOR_IMPORTANCE)
    if not enough:
        return done.iloc[0:0], None
    return done[done["budget"] == enough[-1]].reset_index(drop=True), int(enough[-1])


def parameter_importance(study: Study, frame: pd.DataFrame, seed: int = 0) -> Importance | None:
    """Each searched key's share of the objective, with intervals, on trials of one budget.

    Measured with scikit-learn's permutation importance on held-out trials
    (``core.analysis.importance``).

    Returns:
        None until ``MIN_TRIALS_FOR_IMPORTANCE`` finished trials of one budget scored
        differently and a key took more than one value among them.
    """
    from core.analysis.importance import permutation_shares

    rows, budget = importance_rows(study, frame)
    keys = [k for k in searched_keys(study) or _searched_columns(frame) if k in rows]
    keys = [k for k in keys if rows[k].astype(str).nunique() > 1]
    if len(rows) < MIN_TRIALS_FOR_IMPORTANCE or not keys:
        return None
    columns = [encode(rows[k], is_log(study, k))[0] for k in keys]
    features = np.nan_to_num(np.column_stack(columns), nan=-1.0)
    result = permutation_shares(features, keys, rows["objective"].astype(float), seed=seed)
    if result is None:
        return None
    table = pd.DataFrame(
        [(k, s.share, s.low, s.high) for k, s in result.shares.items()],
        columns=["parameter", "importance", "low", "high"],
    )
    objective = objective_of(study)
    which = _which_trials(len(rows), budget)
    title = f"Share of importance · {which} ({result.level:.0%} intervals)"
    method = (
        f"A random forest learned {objective.name} from the searched values of {which}; each "
        "parameter's share is how much worse it predicts trials it did not see when that "
        "parameter's values are shuffled among them (scikit-learn's permutation importance, "
        f"{result.estimates} shuffles of held-out folds)."
    )
    if result.shares:
        method += " Bars are the mean, lines the 5th to 95th percentile."
    method += f" The forest predicts held-out trials with R² {result.r2:.2f}."
    left_out = len(finished_rows(frame)) - len(rows)
    if budget is not None and left_out:
        method += (
            f" The {left_out} finished trial{'s' if left_out != 1 else ''} given fewer epochs "
            "are left out: a short run ranks settings by how fast they start, not where they "
            "end. Hyperband trains further only the settings that did best before, so these "
            "cover a narrower range."
        )
    verdict = None
    if table.empty:
        verdict = (
            f"The searched values do not yet predict {objective.name} of held-out trials "
            f"(R² {result.r2:.2f} over {which}), so no parameter can be named as important; "
            "more trials may tell."
        )
    pair = None
    if result.pair is not None:
        share = result.pair.share
        pair = (
            f"{result.pair.first} × {result.pair.second} explain {share.share:.0%} together, "
            f"beyond what each does alone ({result.level:.0%} interval {share.low:.0%} to "
            f"{share.high:.0%})."
        )
    return Importance(table, title, method, pair, verdict, budget, len(rows))


def _which_trials(count: int, budget: int | None) -> str:
    """``the 8 finished trials``, or ``the 6 finished 10-epoch trials`` for one budget."""
    kind = "" if budget is None else f"{budget}-epoch "
    return f"the {count} finished {kind}trial{'s' if count != 1 else ''}"


def _searched_columns(frame: pd.DataFrame) -> list[str]:
    fixed = {*LEAD_COLUMNS, *TAIL_COLUMNS}
    return [c for c in frame.columns if c not in fixed]


def weights_elsewhere(trial: Trial) -> str | None:
    """A sentence for a best trial whose weights stayed on the machine that trained it.

    ``core.engine.search.keep`` marks such a trial with ``weights_on`` (the tuner that trained it)
    instead of testing and saving it; None for every other trial.
    """
    worker = trial.results.get("weights_on")
    if not worker:
        return None
    folder = f"tuning/{trial.study_id}/trial_{trial.results.get('tuner_trial_id', '…')}"
    return (
        f"Run {trial.id} was trained by the tuner on {worker}, and its weights stayed in that "
        f"machine's cache folder ({folder}). Promote it to train its settings again here, "
        "test it and download the model."
    )


def baseline_trial(store: Store, study: Study) -> Trial | None:
    """The untuned base config's run (``spec["baseline_study"]``), if the search has one."""
    baseline = study.spec.get("baseline_study")
    if baseline is None:
        return None
    trials = store.trials(study_ids=[int(baseline)])
    return min(trials, key=lambda t: t.number) if trials else None


def versus_baseline(
    best: Trial,
    best_epochs: Sequence[Epoch],
    baseline: Trial,
    baseline_epochs: Sequence[Epoch],
    objective: Objective,
    baseline_value: float | None = None,
) -> pd.DataFrame:
    """The best trial's scores beside the baseline's, with the difference.

    ``baseline_value``: the baseline's objective where it is not its own epochs' best (a
    cross-validated baseline: the mean of its folds', as the trials' objectives are).

    Returns:
        Rows ``test accuracy``, ``test loss`` and ``best <objective>`` (over epochs); columns
        ``best trial``, ``baseline`` and ``change`` (None where either side lacks a value).
    """
    rows = {
        "test accuracy": (best.test_accuracy, baseline.test_accuracy),
        "test loss": (best.test_loss, baseline.test_loss),
        f"best {objective.name}": (
            trial_objective(best, best_epochs, objective),
            baseline_value
            if baseline_value is not None
            else objective.best([e.metrics.get(objective.name) for e in baseline_epochs]),
        ),
    }
    data = [
        {
            "metric": name,
            "best trial": a,
            "baseline": b,
            "change": (a - b) if a is not None and b is not None else None,
        }
        for name, (a, b) in rows.items()
    ]
    return pd.DataFrame(data, columns=["metric", "best trial", "baseline", "change"])


def shown_versus(table: pd.DataFrame) -> pd.DataFrame:
    """:func:`versus_baseline`'s table as people read it: shares in percent with the change
    in percentage points (``+4.2 pp``), losses to four decimals, ``—`` where unknown."""
    rows = []
    for row in table.to_dict("records"):
        share = "loss" not in row["metric"]
        show = percent if share else loss
        change = row["change"]
        if is_missing(change):
            moved = MISSING
        else:
            moved = f"{change * 100:+.1f} pp" if share else f"{change:+.4f}"
        rows.append(
            {
                "metric": row["metric"],
                "best trial": show(row["best trial"]),
                "baseline": show(row["baseline"]),
                "change": moved,
            }
        )
    return pd.DataFrame(rows, columns=list(table.columns))


def is_share(objective: Objective | Mapping[str, Any]) -> bool:
    """Whether an objective is a share (an accuracy, an F1), shown in percent; else a loss."""
    name = objective.name if isinstance(objective, Objective) else str(objective.get("name"))
    return "loss" not in name


def shown_score(value: float, objective: Objective | Mapping[str, Any]) -> str:
    """An objective's value as people read it: ``97.5%`` for an accuracy, ``0.4123`` else."""
    return f"{value:.1%}" if is_share(objective) else f"{value:.4f}"


def best_notes(state: Mapping[str, Any]) -> list[str]:
    """What to know before taking a search's best trial as its result, in sentences:
    :func:`baseline_note` and :func:`budget_note`, those that apply.

    Args:
        state: ``core.worker.searches.search_state``'s answer.
    """
    return [note for note in (baseline_note(state), budget_note(state)) if note]


def baseline_note(state: Mapping[str, Any]) -> str | None:
    """A sentence when the untuned baseline beats every trial of the search, else None."""
    if not state.get("baseline_better") or state.get("baseline_value") is None:
        return None
    final = state.get("state") == "done"
    score = shown_score(state["baseline_value"], state["objective"])
    return (
        f"The untuned baseline ({score}) beats every trial{'' if final else ' so far'}; "
        f"the search {'did not find' if final else 'has not found'} a better setting."
    )


def budget_note(state: Mapping[str, Any]) -> str | None:
    """A sentence when the best trial was given fewer epochs than the schedule's full ones
    (Hyperband's early rounds, or a search stopped before any setting was trained fully),
    else None."""
    what = partial_best(state)
    if what is None:
        return None
    final = state.get("state") == "done"
    epochs, schedule = state["best_epochs"], state["schedule_epochs"]
    return (
        f"{'Best' if final else 'Best so far'}: run {state['best_trial']}, {what}; a score "
        f"after {epochs} epoch{'s' if epochs != 1 else ''} is not what its setting reaches "
        f"after {schedule}."
    )


def partial_best(state: Mapping[str, Any]) -> str | None:
    """``a 2-epoch trial of a 10-epoch schedule`` when the best trial was given fewer epochs
    than a fully trained one gets, else None."""
    epochs, schedule = state.get("best_epochs"), state.get("schedule_epochs")
    if epochs is None or schedule is None or epochs >= schedule:
        return None
    return f"a {epochs}-epoch trial of a {schedule}-epoch schedule"


def settings_diff(best: Trial, baseline: Trial) -> pd.DataFrame:
    """The settings where the best trial differs from the baseline, side by side."""
    configs = [{k: _readable(v) for k, v in t.config.items()} for t in (best, baseline)]
    diff = config_diff(configs, labels=[f"best (run {best.id})", "baseline"])
    return diff[diff["differs"]].drop(columns="differs")


def _readable(value: Any) -> Any:
    """A sampled float to 4 significant digits (0.0011467157... reads as 0.001147)."""
    if isinstance(value, float) and math.isfinite(value):
        return float(f"{value:.4g}")
    return value
