"""``python -m core sweep``: vary one hyperparameter (or two, as a grid) from the shell.

    python -m core sweep --param batch_size --values 20,100,1000 [--repeats 3]
                         [--scale-lr] [--set key=value ...] [--config run.json] [--name NAME]
                         [--json]
    python -m core sweep --param optimizer --values adam,sgd \\
                         --param learning_rate --values 0.01,0.001

The sweep is recorded in the store as one study (the Compare page shows it) and trained in
this process, one run after another, printing a line per epoch and one per run. Ctrl-C stops
the current run and cancels the rest; finished runs stay. With ``--json`` the last line is one
JSON object: the study id and, per value, the mean and standard deviation of test accuracy and
of seconds per epoch, and its verdict against the best value (``best``, ``tied`` or ``worse``)
with the difference and its interval, in percentage points for accuracy and seconds for time
(``sweep_summary``). Bad input prints one line naming the setting and exits with status 2.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
from typing import Any

from core.cli.args import (
    EXIT_FAILED,
    EXIT_OK,
    EXIT_USAGE,
    config_flags,
    config_from_args,
    hand_to_pool,
    json_flag,
    no_wait_flag,
    print_error,
)
from core.cli.train import train_one
from core.data.checks import check_config, check_configs
from core.data.names import run_title
from core.data.weights import check_weights
from core.spec.config import ConfigError, RunConfig
from core.spec.sweeps import SweepSpec, plan_sweep
from core.store import Status, Store, open_store, paths

logger = logging.getLogger(__name__)


def add_sweep_command(sub: argparse._SubParsersAction) -> None:
    """Add ``sweep`` to the subcommands of ``python -m core``."""
    sweep = sub.add_parser(
        "sweep",
        parents=[config_flags(), json_flag(), no_wait_flag()],
        help="vary one hyperparameter (or two, as a grid) and compare the runs",
    )
    sweep.add_argument(
        "--param",
        action="append",
        required=True,
        metavar="KEY",
        help="the setting to vary (give it twice for a grid of two settings)",
    )
    sweep.add_argument(
        "--values",
        action="append",
        required=True,
        metavar="V1,V2,...",
        help="its values, comma-separated (semicolons for lists: 16,64;32,128); "
        "one --values per --param, in the same order",
    )
    sweep.add_argument("--repeats", type=int, default=1, help="runs per value, seeds 0, 1, ...")
    sweep.add_argument(
        "--scale-lr",
        action="store_true",
        help="scale the learning rate with the batch size (linear scaling rule)",
    )
    sweep.set_defaults(run=run_sweep)


def _base_config(args: argparse.Namespace) -> RunConfig:
    return config_from_args(args)


def _plan(args: argparse.Namespace) -> tuple[Any, SweepSpec, RunConfig]:
    if len(args.param) != len(args.values):
        raise ConfigError("--values", "give one --values list for each --param.")
    if len(set(args.param)) != len(args.param):
        raise ConfigError("--param", f"{args.param[0]} is given twice.")
    base = check_config(_base_config(args))
    plan, spec = plan_sweep(
        base,
        dict(zip(args.param, args.values, strict=True)),
        args.repeats,
        args.scale_lr,
        args.name,
        run_title(base.to_dict(), omit=args.param),  # the swept keys are named already
    )
    for cfg in check_configs(plan.configs):
        check_weights(cfg)
    return plan, spec, base


def run_sweep(args: argparse.Namespace) -> int:
    """Plan, record and train a sweep; return the exit status."""
    try:
        plan, spec, base = _plan(args)
    except ConfigError as exc:
        print_error(exc)
        return EXIT_USAGE

    root = paths.cache_dir()
    os.environ["KERAS_HOME"] = str(paths.keras_home(root))
    store = open_store(root)
    study_id, trial_ids = store.create_study(
        plan.name,
        plan.kind,
        plan.configs,
        spec={**spec.to_dict(), "source": "cli"},
        reserve_for=None if args.no_wait else os.getpid(),
    )
    logger.info(
        "study %d: %s, %d runs of %d epochs", study_id, plan.name, len(trial_ids), base.epochs
    )
    if args.no_wait:
        return hand_to_pool(root, study_id, trial_ids, args.json)
    statuses: list[Status] = []
    for number, trial_id in enumerate(trial_ids):
        cell = spec.cells[number]
        logger.info(
            "run %d/%d: %s %s, repeat %d/%d",
            number + 1,
            len(trial_ids),
            spec.title.lower(),
            spec.label(cell),
            spec.seeds[number] + 1,
            spec.repeats,
        )
        statuses.append(train_one(store, trial_id, root, plan.configs[number].epochs))
        if statuses[-1] == Status.CANCELLED:
            store.cancel_study(study_id)
            logger.info("cancelled: the runs not started are cancelled, finished ones kept")
            break
    summary = sweep_summary(store, study_id)
    for line in summary["summary"]:
        logger.info("%s", line.replace("**", ""))
    if args.json:
        print(json.dumps(summary))
    return EXIT_OK if set(statuses) == {Status.COMPLETED} else EXIT_FAILED


def sweep_summary(store: Store, study_id: int) -> dict[str, Any]:
    """The JSON summary of a sweep: per value, its figures and its verdict against the best.

    Each of ``values`` has the mean and std of test accuracy and of seconds per epoch, and
    ``verdict`` (``best``, ``tied``, ``worse``, or null where the runs cannot support one),
    ``diff_vs_best`` with its interval ``diff_ci`` (test accuracy, in percentage points: this
    value minus the best), ``ci_level`` and ``p_value`` (Holm-adjusted); ``time`` holds the
    same for seconds per epoch (in s; the best is the fastest). ``test`` names the procedure.

    Each value also carries ``test_images`` (how many test images each run was scored on)
    and ``test_accuracy_ci``, the 95% Wilson interval of its mean test accuracy on that many
    images, as ``[low, high]`` (None where no run of the value was tested).
    """
    from core.analysis.sweep_numbers import (  # pandas and scipy: only when needed
        run_frame,
        value_frame,
    )
    from core.analysis.sweep_summary import (
        ALPHA,
        COST_METRIC,
        TEST_NAME,
        UNITS,
        summarize,
        verdict_frame,
    )

    spec = SweepSpec.from_dict(store.study(study_id).spec)
    if spec is None:
        raise KeyError(f"study {study_id} is not a sweep")
    trials = store.trials(study_ids=[study_id])
    runs = run_frame(spec, trials, {t.id: store.epochs(t.id) for t in trials})
    values = value_frame(spec, runs)
    metric = "test_accuracy"
    verdicts = {
        m: {r["value"]: r for r in verdict_frame(runs, m).to_dict("records")} if len(runs) else {}
        for m in (metric, COST_METRIC)
    }
    rows = []
    for _, row in values.iterrows():
        cell = spec.all_cells()[int(row["order"])]
        images, low, high = (
            _number(row[k]) for k in ("test_images", "test_ci_low", "test_ci_high")
        )
        rows.append(
            {
                "value": _plain(spec.cell_values(cell)[0])
                if len(spec.keys) == 1
                else {k: _plain(v) for k, v in zip(spec.keys, spec.cell_values(cell), strict=True)},
                "runs": int(row["runs"]),
                **{
                    name: _number(row[name])
                    for name in (
                        "test_accuracy",
                        "test_accuracy_std",
                        "seconds_per_epoch",
                        "seconds_per_epoch_std",
                    )
                },
                **_verdict(verdicts[metric], row["value"], UNITS[metric].unit),
                "time": _verdict(verdicts[COST_METRIC], row["value"], UNITS[COST_METRIC].unit),
                "test_images": None if images is None else int(images),
                "test_accuracy_ci": None if low is None or high is None else [low, high],
            }
        )
    statuses = {str(t.status) for t in trials}
    summary = summarize(runs, spec.title) if len(runs) else None
    return {
        "study": study_id,
        "params": list(spec.keys),
        "repeats": spec.repeats,
        "scale_lr": spec.scale_lr,
        "status": statuses.pop() if len(statuses) == 1 else "mixed",
        "test": {"metric": metric, "method": TEST_NAME, "alpha": ALPHA},
        "values": rows,
        "summary": summary.text if summary else [],
        "warnings": summary.warnings if summary else [],
    }


def _verdict(verdicts: dict[str, dict], label: str, unit: str) -> dict[str, Any]:
    """A value's verdict, difference from the best and its interval, from ``verdict_frame``."""
    row = verdicts.get(label, {})
    low, high = _number(row.get("ci_low")), _number(row.get("ci_high"))
    return {
        "verdict": row.get("verdict") or None,
        "diff_vs_best": _number(row.get("diff_vs_best")),
        "diff_ci": None if low is None or high is None else [low, high],
        "ci_level": _number(row.get("ci_level")),
        "p_value": _number(row.get("p_value")),
        "unit": unit,
    }


def _plain(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


def _number(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return None if number != number else number  # NaN → null
