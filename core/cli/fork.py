"""``python -m core fork``: continue a run from one of its epochs with some settings changed.

    python -m core fork TRIAL --epoch K [--set key=value ...] [--json]

Forks trial ``TRIAL`` after its epoch ``K`` (1-based, as the epoch lines and the app show
it; the trial needs a checkpoint of that epoch) with the ``--set`` changes (only what may
change mid-training: the learning rate and its schedule, optimizer, batch size, dropout,
augmentation, regularization, epochs), records the fork in the store and trains it in this
process, printing one line per epoch. With ``--json`` the last line is one JSON object with
the study, trial, parent, fork epoch, changes, status and test metrics, and the difference
from the parent's test accuracy on the same images with its 95% interval
(``test_accuracy_diff``, ``test_accuracy_diff_ci``; ``core.analysis.paired``). Bad input
prints one line and exits with status 2.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
from typing import Any

from core.analysis.paired import paired_difference
from core.cli.args import EXIT_FAILED, EXIT_OK, EXIT_USAGE, json_flag, print_error
from core.cli.train import train_one
from core.spec.config import ConfigError, parse_assignment
from core.store import Status, open_store, paths
from core.worker import forks as fork

logger = logging.getLogger(__name__)


def add_fork_command(sub: Any) -> None:
    """Add the ``fork`` command to the sub-parsers of ``python -m core``."""
    parser = sub.add_parser(
        "fork", parents=[json_flag()], help="continue a run from one of its epochs, changed"
    )
    parser.add_argument("trial", type=int, help="the run (trial) id, as `runs` lists it")
    parser.add_argument(
        "--epoch", type=int, required=True, help="the epoch (1-based) to continue after"
    )
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help=f"a setting to change: {', '.join(fork.FORKABLE_KEYS)}",
    )
    parser.set_defaults(run=_fork)


def _fork(args: argparse.Namespace) -> int:
    root = paths.cache_dir()
    store = open_store(root)
    try:
        changes = dict(parse_assignment(item) for item in args.set)
        plan = fork.plan_fork(store, args.trial, args.epoch, changes, root)
    except ConfigError as exc:
        print_error(exc)
        return EXIT_USAGE
    os.environ["KERAS_HOME"] = str(paths.keras_home(root))
    study_id, trial_id = fork.queue_fork(store, plan, reserve_for=os.getpid())
    logger.info("study %d: %s", study_id, plan.name)
    status = train_one(store, trial_id, root, plan.config.epochs)
    trial = store.trial(trial_id)
    versus = paired_difference(trial, store.trial(plan.parent.id))
    if versus is not None:
        logger.info("%s", versus.sentence("the fork", f"run {plan.parent.id}"))
    if args.json:
        summary = {
            "study": study_id,
            "trial": trial_id,
            "parent": plan.parent.id,
            "fork_epoch": plan.epoch,
            "changes": plan.changes,
            "status": str(status),
            "test_accuracy": trial.test_accuracy,
            "test_loss": trial.test_loss,
            "epochs_run": len(store.epochs(trial_id)),
            "error": trial.error,
            # Against the parent on the same test images (None without per-image results).
            "parent_test_accuracy": store.trial(plan.parent.id).test_accuracy,
            "test_accuracy_diff": None if versus is None else versus.diff,
            "test_accuracy_diff_ci": None if versus is None else [versus.low, versus.high],
        }
        print(json.dumps(summary))
    return EXIT_OK if status == Status.COMPLETED else EXIT_FAILED
