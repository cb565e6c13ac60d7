"""How long a search will take: what it plans, times what this machine has measured.

The estimate adds up, over the search's exact schedule (``core.spec.schedule``: Hyperband's
brackets and rounds, or ``max_trials`` trials of their epochs, each trained
``executions_per_trial`` times):

* every epoch, with the pause after it (checkpoint and logs written);
* every trial's fixed costs: its model built and compiled, TensorFlow tracing it in its first
  epoch (both once per execution), keras-tuner's bookkeeping when it ends;
* the untuned baseline (a run of the base config, tested and saved), and the ``keep_top`` best
  trials tested and saved when the search ends;
* each search process's end: the tuner's last save, garbage collected, the interpreter's exit;
* a fresh process: Python, the TensorFlow import, the data, TensorFlow setting itself up in the
  first epoch. A command line search trains everything in its own process, so once; the app's
  worker runs a search in a child process, handed on to a fresh one each time its memory has
  grown by ``HANDOVER_GROWTH_MIB`` (about ``TRIAL_GROWTH_MIB`` a trial).

Every phase has a default for each model and dataset (:func:`default_phases`): counted from the
model's size (``core.spec.model_cost``: layers, weights, multiply-adds per image) and the
dataset's images, with constants measured on this machine (:data:`DEFAULTS`). What past trials
took (``core.worker.timings``) corrects them: each phase's default is scaled by the mean of
measured ÷ default over past trials of the same dataset and model where there are some, else
over any. A phase measured on one trial only is weighed equally with the median scale of all
phases, and a phase nothing measured borrows its sibling's scale, else that median.
So an epoch measured at batch 64 on digits carries over to batch 16, to resized images or to
other filters as the default says an epoch scales, and a model never run here is timed from
its FLOPs and this machine's measured speed (a *rough* estimate). Early stopping can only
shorten a search: the estimate is of the whole plan. Nothing here imports TensorFlow, and it
reads the store once, so the Tune page recomputes it on every rerun.
"""

from __future__ import annotations

import math
import random
import statistics
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from core.data.checks import read_dataset
from core.spec.catalog import DatasetInfo
from core.spec.config import ConfigError, RunConfig
from core.spec.durations import format_duration
from core.spec.model_cost import model_cost
from core.spec.schedule import Stage, planned_epochs, search_schedule
from core.spec.search_space import (
    Dimension,
    SearchSettings,
    SearchSpace,
    trial_config,
    trial_executions,
)
from core.store import Store
from core.store.searches import HANDOVER_GROWTH_MIB, TRIAL_GROWTH_MIB
from core.worker.timings import TrialTiming, past_timings

# Configs drawn from the space to average a trial's cost over the values the tuner may try.
SAMPLES = 24
# Past trials read back for their timings.
HISTORY = 200


@dataclass(frozen=True)
class Defaults:
    """Seconds each phase takes when nothing was measured (see :data:`DEFAULTS`).

    Attributes:
        step_s: Fixed cost of one training step, plus ``step_layer_s`` per layer of the model;
            a validation step costs ``eval_share`` of one.
        flops_per_s: Arithmetic the training steps run at, beyond their fixed costs.
        write_bytes_per_s: How fast weights are written (checkpoints, saved models).
        pause_s: Between two epochs, besides writing the checkpoint.
        build_s: Building, compiling and checking a model and its pipeline, plus
            ``build_layer_s`` per layer.
        tracing_s: The extra time of a fit's first epoch, plus ``tracing_layer_s`` per layer.
        first_extra_s: On top of tracing, in the first epoch a process runs.
        finish_search_s: keras-tuner's bookkeeping at a trial's end, besides its weights.
        finish_run_s: Testing and saving a run, plus ``finish_layer_s`` per layer, besides
            the test images' arithmetic and the files' bytes.
        start_s: A fresh process's Python, imports (TensorFlow's) and data, before its first
            trial's build.
        keep_s: Keeping one of the best trials when the search ends, besides building it and
            testing and saving it as a run is (keras-tuner reloads its best weights).
        end_s: A search process's end (the tuner's last save, TensorFlow's session cleared,
            the interpreter's exit), plus ``end_trial_s`` for each trial it ran (more garbage
            to collect).
    """

    step_s: float
    step_layer_s: float
    eval_share: float
    flops_per_s: float
    write_bytes_per_s: float
    pause_s: float
    build_s: float
    build_layer_s: float
    tracing_s: float
    tracing_layer_s: float
    first_extra_s: float
    finish_search_s: float
    finish_run_s: float
    finish_layer_s: float
    start_s: float
    keep_s: float
    end_s: float
    end_trial_s: float


# Measured on this 2-core machine while it was otherwise nearly idle (load about 2), from the
# store of report 000's Hyperband search on digits run from the command line after a 2-epoch
# calibration run (``core.worker.timings`` read the phases of its 30 trials of a 12-layer CNN:
# built in 1.2 s, a first epoch 1.5 s longer than the others, 0.18 s an epoch of 20 steps,
# 0.014 s between epochs, 0.8 s to end; a run tested and saved in 0.5 s; a process at its
# first epoch 4 to 5 s after it started; the best three kept in 3.3 s each; 7 s from the
# search's end to the process's exit, 3 s after a search of 6 trials, 2 s after one). The
# per-layer terms come from single digits runs timed through the engine (MLP, CNN, small
# ResNet and MobileNetV2 at 32 px: the 162-layer model took about 9 times as long to build,
# 4 times to trace and 15 times to test and save as the CNN); the arithmetic speed from the
# CNN at 32 px with 64 and 128 filters (73 GFLOP/s); the write speed from a 100 MiB fsync'd
# file. Past trials scale every phase to the machine as it is: with other work running
# (load 6 to 10) the same search took 3 to 6 times as long in every phase.
DEFAULTS = Defaults(
    step_s=0.0018,
    step_layer_s=0.00032,
    eval_share=0.5,
    flops_per_s=7e10,
    write_bytes_per_s=3e8,
    pause_s=0.013,
    build_s=1.15,
    build_layer_s=0.006,
    tracing_s=1.16,
    tracing_layer_s=0.03,
    first_extra_s=0.3,
    finish_search_s=0.78,
    finish_run_s=0.0,
    finish_layer_s=0.04,
    start_s=3.4,
    keep_s=1.6,
    end_s=1.7,
    end_trial_s=0.18,
)

PHASES = (
    "epoch",
    "pause",
    "build",
    "tracing",
    "first_tracing",
    "finish_search",
    "finish_run",
    "start",
    "keep",
    "end",
    "end_trial",
)
# A phase nothing measured is scaled as the closest measured one is.
_SIBLING = {
    "epoch": "pause",
    "pause": "epoch",
    "build": "start",
    "start": "build",
    "tracing": "first_tracing",
    "first_tracing": "tracing",
    "finish_search": "finish_run",
    "finish_run": "finish_search",
    "keep": "finish_run",
}


def default_phases(
    cfg: RunConfig, info: DatasetInfo, defaults: Defaults = DEFAULTS
) -> dict[str, float]:
    """The default seconds of each phase (``PHASES``) of a trial of ``cfg`` on ``info``.

    An epoch is its steps' fixed costs (per layer, so a deep model's step costs more) plus
    its arithmetic: every training image's forward and backward pass and every validation
    image's forward pass, at ``flops_per_s``. Twice the images is twice the epoch; a larger
    batch takes fewer steps, so less time where the steps' fixed cost dominates.
    """
    d = defaults
    cost = model_cost(cfg, info.shape, info.num_classes)
    n_train = cfg.train_images(info.n_train)
    n_val = info.n_train - n_train
    per_step = d.step_s + d.step_layer_s * cost.layers
    steps = math.ceil(n_train / cfg.batch_size) + d.eval_share * math.ceil(n_val / cfg.batch_size)
    arithmetic = 2 * (n_train * cost.train_macs + n_val * cost.macs) / d.flops_per_s
    # A checkpoint holds the weights, and the optimizer's two slots for each trained one.
    checkpoint = (4 * cost.params + 8 * cost.trained_params) / d.write_bytes_per_s
    build = d.build_s + d.build_layer_s * cost.layers
    tracing = d.tracing_s + d.tracing_layer_s * cost.layers
    test = 2 * info.n_test * cost.macs / d.flops_per_s + math.ceil(info.n_test / 256) * per_step
    saved = 8 * cost.params / d.write_bytes_per_s  # model.keras and model.weights.h5
    return {
        "epoch": steps * per_step + arithmetic,
        "pause": d.pause_s + checkpoint,
        "build": build,
        "tracing": tracing,
        "first_tracing": tracing + d.first_extra_s,
        "finish_search": d.finish_search_s + checkpoint,
        "finish_run": d.finish_run_s + d.finish_layer_s * cost.layers + test + saved,
        "start": d.start_s + build,
        "keep": d.keep_s,
        "end": d.end_s,
        "end_trial": d.end_trial_s,
    }


@dataclass(frozen=True)
class Speeds:
    """How this machine compares with the defaults, phase by phase.

    Attributes:
        factors: Measured ÷ default for each of ``PHASES`` (1.0 when nothing was measured).
        trials: Past trials each factor comes from (0: borrowed, or the default).
        like: Whether the epoch factor comes from trials of the same dataset and model.
        epochs: Epochs the epoch factor was measured on.
    """

    factors: dict[str, float]
    trials: dict[str, int]
    like: bool
    epochs: int


def machine_speeds(
    timings: list[TrialTiming],
    like: Callable[[RunConfig], bool],
    info: Callable[[str], DatasetInfo | None],
) -> Speeds:
    """Scale the defaults by what past trials took (see the module docstring).

    Args:
        timings: Past trials' phases (``core.worker.timings.past_timings``).
        like: Whether a past trial's config is like the search's (same dataset and model).
        info: The ``DatasetInfo`` of a dataset name, or None when it cannot be read.
    """
    ratios: dict[str, dict[str, list[float]]] = {"like": {}, "all": {}}
    epochs = {"like": 0, "all": 0}
    for timing in timings:
        dataset = info(timing.config.dataset)
        if dataset is None:
            continue
        defaults = default_phases(timing.config, dataset)
        groups = ("like", "all") if like(timing.config) else ("all",)
        for group in groups:
            for phase, seconds in _measured(timing).items():
                ratios[group].setdefault(phase, []).append(seconds / defaults[phase])
            if timing.epoch_s is not None:
                epochs[group] += timing.epochs - 1
    factors: dict[str, float] = {}
    counts: dict[str, int] = {}
    for phase in PHASES:
        found = ratios["like"].get(phase) or ratios["all"].get(phase)
        if found:
            factors[phase] = _trimmed_mean(found)
            counts[phase] = len(found)
    overall = statistics.median(factors.values()) if factors else 1.0
    for phase in [p for p, n in counts.items() if n == 1]:
        # A phase measured once is a noisy sample (the one steady epoch of a short calibration
        # run): it is weighed equally with the machine's overall scale.
        factors[phase] = math.sqrt(factors[phase] * overall)
    for phase in PHASES:
        if phase not in factors:
            sibling = _SIBLING.get(phase)
            factors[phase] = factors[sibling] if counts.get(sibling) else overall
            counts[phase] = 0
    like_epochs = "epoch" in ratios["like"]
    return Speeds(factors, counts, like_epochs, epochs["like" if like_epochs else "all"])


def _trimmed_mean(values: list[float]) -> float:
    """The mean (what a total needs) without the tenth of values at either end (a stall)."""
    cut = len(values) // 10
    return statistics.fmean(sorted(values)[cut : len(values) - cut])


def _measured(timing: TrialTiming) -> dict[str, float]:
    """The phases one past trial measured, by name."""
    found = {
        "epoch": timing.epoch_s,
        "pause": timing.pause_s,
        "build": timing.build_s,
        "first_tracing" if timing.first else "tracing": timing.tracing_s,
        "finish_search" if timing.search else "finish_run": timing.finish_s,
        "start": timing.since_start_s,
    }
    return {k: v for k, v in found.items() if v is not None and v > 0}


@dataclass(frozen=True)
class SearchEstimate:
    """A search's plan and how long it will take (see :func:`estimate_search`).

    Attributes:
        trials: Trials planned.
        executions: Times each trial trains.
        epochs: Epochs planned in all (every execution's).
        stages: The schedule (Hyperband's rounds, or one stage).
        processes: Fresh processes the search starts (each imports TensorFlow).
        seconds: The whole plan's duration.
        parts: ``start`` (fresh processes), ``baseline``, ``trials`` (their fixed costs),
            ``epochs``, ``keep`` (testing and saving the best) and ``end`` (the processes'
            ends), in seconds.
        epoch_s: An average epoch, with the pause after it.
        trial_s: An average trial's fixed costs.
        flops: An average trial's forward FLOPs per image.
        basis: ``measured`` (epochs of like runs measured here), ``machine`` (a model never
            run here, timed by this machine's measured speed) or ``default`` (nothing measured).
        label: The dataset and model, as ``digits/cnn``.
        epochs_measured: Past epochs the epoch time rests on.
        trials_measured: Past search trials the fixed costs rest on.
        runs_measured: Past trials of any kind some phase was measured on.
        budget_s: The search's time budget, if any.
        capped: The time budget ends the search before its plan does.
        sentence: One or two lines for people, with the basis.
    """

    trials: int
    executions: int
    epochs: float
    stages: list[Stage]
    processes: int
    seconds: float
    parts: dict[str, float]
    epoch_s: float
    trial_s: float
    flops: float
    basis: str
    label: str
    epochs_measured: int
    trials_measured: int
    runs_measured: int
    budget_s: float | None
    capped: bool
    sentence: str = ""
    factors: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The plan and estimate as JSON-compatible data (what ``tune --dry-run --json`` prints)."""
        return {
            "trials": self.trials,
            "executions_per_trial": self.executions,
            "epochs": round(self.epochs, 1),
            "schedule": [s.to_dict() for s in self.stages],
            "processes": self.processes,
            "estimate_s": round(self.seconds, 1),
            "parts_s": {k: round(v, 1) for k, v in self.parts.items()},
            "epoch_s": round(self.epoch_s, 3),
            "trial_s": round(self.trial_s, 2),
            "basis": {
                "kind": self.basis,
                "label": self.label,
                "flops_per_image": self.flops,
                "epochs_measured": self.epochs_measured,
                "trials_measured": self.trials_measured,
                "runs_measured": self.runs_measured,
                "factors": {k: round(v, 3) for k, v in self.factors.items()},
            },
            "budget_s": self.budget_s,
            "capped": self.capped,
            "sentence": self.sentence,
        }


def estimate_search(
    store: Store,
    base: RunConfig,
    space: SearchSpace,
    settings: SearchSettings,
    baseline: bool = True,
    here: bool = False,
) -> SearchEstimate:
    """How long a search would take on this machine, with the basis of the figure.

    Args:
        store: The store whose past trials say how fast this machine is.
        base: The base config.
        space: The search space.
        settings: The tuner settings.
        baseline: The untuned baseline run is trained too (as ``launch_search`` queues it).
        here: The command line trains it all in its own process; else the app's worker does,
            in a child process that hands on to a fresh one as its memory grows.

    Returns:
        The plan, its duration in parts, what the figures rest on and one sentence saying so.

    Raises:
        ConfigError: if the base config's dataset cannot be read.
    """
    info = read_dataset(base)
    infos: dict[str, DatasetInfo | None] = {base.dataset: info}

    def info_of(name: str) -> DatasetInfo | None:
        if name not in infos:
            try:
                infos[name] = read_dataset(RunConfig(dataset=name))
            except ConfigError:  # a folder since moved or deleted
                infos[name] = None
        return infos[name]

    family = _family(base)
    speeds = machine_speeds(
        past_timings(store, HISTORY),
        lambda cfg: cfg.dataset == base.dataset and _family(cfg) == family,
        info_of,
    )
    k = speeds.factors
    stages = search_schedule(base, space, settings)
    executions = trial_executions(base, settings)
    trials = sum(s.trials for s in stages)
    samples = [_costs(cfg, info, k) for cfg in sample_configs(base, space, settings)]
    mean = {key: statistics.fmean(s[key] for s in samples) for key in samples[0]}
    trial_s = executions * (mean["build"] + mean["tracing"]) + mean["finish_search"]
    epoch_s = mean["epoch"]
    untuned_config = trial_config(space, settings, base, {})
    untuned = _costs(untuned_config, info, k)
    # The worker's search process hands on once it has grown HANDOVER_GROWTH_MIB.
    processes = 1 if here else 1 + math.floor(trials * TRIAL_GROWTH_MIB / HANDOVER_GROWTH_MIB)
    fresh = untuned["fresh"] if here and baseline else mean["fresh"]
    parts = {
        "start": processes * fresh,
        "baseline": 0.0,
        "trials": trials * trial_s,
        "epochs": planned_epochs(stages, executions) * epoch_s,
        "keep": min(settings.keep_top, trials)
        * (mean["build"] + mean["finish_run"] + mean["keep"]),
        "end": processes * mean["end"] + (trials + baseline * here) * mean["end_trial"],
    }
    if baseline:
        parts["baseline"] = (
            untuned["build"]
            + untuned["tracing"]
            + untuned_config.epochs * untuned["epoch"]
            + untuned["finish_run"]
        )
    seconds = sum(parts.values())
    budget = settings.time_budget_s
    estimate = SearchEstimate(
        trials=trials,
        executions=executions,
        epochs=planned_epochs(stages, executions),
        stages=stages,
        processes=processes,
        seconds=seconds,
        parts=parts,
        epoch_s=epoch_s,
        trial_s=trial_s,
        flops=2 * mean["macs"],
        basis=_basis(speeds),
        label=f"{_dataset_label(base, info)}/{family}",
        epochs_measured=speeds.epochs,
        trials_measured=speeds.trials["finish_search"],
        runs_measured=max(speeds.trials.values(), default=0),
        budget_s=budget,
        capped=budget is not None and seconds - parts["baseline"] > budget,
        factors=dict(k),
    )
    return _with_sentence(estimate, settings, baseline)


def sample_configs(
    base: RunConfig, space: SearchSpace, settings: SearchSettings, count: int = SAMPLES
) -> list[RunConfig]:
    """Configs the tuner may try, drawn evenly from the space (the same ones every time).

    Each searched key takes one of its values, every value as likely (a log range evenly in
    its logarithm); combinations that are not valid runs are left out. With nothing valid
    drawn, the base config (with the fixed values) stands for every trial.
    """
    rng = random.Random(0)
    found = []
    for _ in range(count):
        values = {d.key: _draw(d, rng) for d in space.searched}
        try:
            found.append(trial_config(space, settings, base, values))
        except ConfigError:
            continue
    return found or [trial_config(space, settings, base, {})]


def _draw(dim: Dimension, rng: random.Random) -> Any:
    if dim.kind == "choice":
        return rng.choice(dim.values)
    low, high = float(dim.low), float(dim.high)
    if dim.log:
        value = math.exp(rng.uniform(math.log(low), math.log(high)))
    else:
        value = rng.uniform(low, high)
        if dim.step:
            value = low + round((value - low) / dim.step) * dim.step
    return int(round(value)) if dim.kind == "int" else value


def _costs(cfg: RunConfig, info: DatasetInfo, k: dict[str, float]) -> dict[str, float]:
    """A trial's phases, scaled to this machine, and what a fresh process adds to it."""
    phases = {p: s * k[p] for p, s in default_phases(cfg, info).items()}
    # A process's first trial: the start-up includes its build, its first epoch sets up more.
    fresh = phases["start"] - phases["build"] + phases["first_tracing"] - phases["tracing"]
    return {
        **phases,
        "epoch": phases["epoch"] + phases["pause"],
        "fresh": fresh,
        "macs": model_cost(cfg, info.shape, info.num_classes).macs,
    }


def _family(cfg: RunConfig) -> str:
    return cfg.backbone if cfg.model == "transfer" else cfg.model


def _dataset_label(cfg: RunConfig, info: DatasetInfo) -> str:
    return cfg.dataset if cfg.dataset == info.name and "/" not in cfg.dataset else info.title


def _basis(speeds: Speeds) -> str:
    if speeds.trials.get("epoch"):
        return "measured" if speeds.like else "machine"
    return "default"


def _with_sentence(
    estimate: SearchEstimate, settings: SearchSettings, baseline: bool
) -> SearchEstimate:
    e = estimate
    runs = f"{e.trials} trials" + (f" × {e.executions} executions" if e.executions > 1 else "")
    epochs = f"{e.epochs:,.0f} epochs at ~{format_duration(e.epoch_s)}"
    total = format_duration(_rounded(e.seconds))
    if e.basis == "measured":
        past = _count(e.epochs_measured, f"past {e.label} epoch")
        head = f"About {total}: {runs}, {epochs} (measured on {past})"
    else:
        where = f"{e.label} never ran here" if e.basis == "machine" else "nothing ran here yet"
        speed = "measured" if e.basis == "machine" else "default"
        head = f"Rough, about {total}: {where}; {runs}, {epochs} from its {_flops(e.flops)} "
        head += f"per image and this machine's {speed} speed"
    if e.trials_measured:
        source = " (measured)"
    elif e.runs_measured:
        source = f" (scaled from {_count(e.runs_measured, 'past run')})"
    else:
        source = ""
    head += f", plus ~{format_duration(e.trial_s)} per trial to build, trace and save{source}"
    what = "start" if e.processes == 1 else f"start {e.processes} search processes"
    what += ", train the baseline" if baseline else ""
    rest = e.seconds - e.parts["trials"] - e.parts["epochs"]
    head += f", plus {format_duration(rest)} to {what} and keep the best"
    if e.capped and e.budget_s is not None:
        head += f"; the {format_duration(e.budget_s)} time budget ends it first"
    elif settings.tuner == "bayes-hyperband":
        head += (
            f"; Hyperband's stopping can only shorten it (no trial stops before epoch "
            f"{settings.min_epochs})"
        )
    elif settings.early_stopping_patience:
        head += "; early stopping can only shorten it"
    return replace(e, sentence=head + ".")


def _rounded(seconds: float) -> float:
    """A total to the precision an estimate has: whole minutes from 10 min, 10 min from 2 h."""
    for above, unit in ((7200, 600), (600, 60), (120, 10)):
        if seconds >= above:
            return round(seconds / unit) * unit
    return seconds


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("s" if n != 1 else "")


def _flops(flops: float) -> str:
    """FLOPs as people read them: 450 kFLOPs, 1.2 GFLOPs, 38 GFLOPs."""
    scale, unit = next(
        ((v, u) for v, u in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")) if flops >= v),
        (1.0, ""),
    )
    value = flops / scale
    return f"{value:.2g} {unit}FLOPs" if value < 10 else f"{value:.0f} {unit}FLOPs"
