"""``python -m core train``: train one run (or its k folds) in this process, through the store.

    python -m core train --dataset digits --epochs 5 [--set key=value ...] [--config run.json]
                         [--name NAME] [--json]

It records a study in the store and trains it here, printing one line per epoch; with
``--json`` the last line is one JSON object with the study, trial, status, test metrics and
artifact paths. ``--dataset`` takes a built-in dataset, a folder of class folders, or a
``.zip`` of them, which is unpacked into the cache first (``core.data.folders.add_upload``; the
same zip is unpacked once).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
from pathlib import Path
from typing import Any

from core.analysis.folds import summarize_folds
from core.cli.args import (
    EXIT_FAILED,
    EXIT_OK,
    EXIT_USAGE,
    config_flags,
    config_from_args,
    json_flag,
    print_error,
)
from core.data.checks import check_config
from core.data.folders import add_upload
from core.data.names import run_title
from core.data.weights import check_weights
from core.spec.config import ConfigError, RunConfig
from core.spec.plan import plan_run
from core.store import Status, Store, open_store, paths

logger = logging.getLogger(__name__)


def add_train_command(sub: Any) -> None:
    """Add ``train`` to the subcommands of ``python -m core``."""
    train = sub.add_parser(
        "train",
        parents=[config_flags(), json_flag()],
        help="train one model and record it in the store",
    )
    train.set_defaults(run=run_train)


def build_config(args: argparse.Namespace) -> RunConfig:
    """Merge ``--config`` file, shortcut flags and ``--set`` pairs into one validated config.

    Raises:
        ConfigError: naming the first bad value.
    """
    return config_from_args(args)


def run_train(args: argparse.Namespace) -> int:
    try:
        if args.dataset and args.dataset.lower().endswith(".zip"):
            args.dataset = str(add_upload(Path(args.dataset)))
        cfg = check_config(build_config(args))
        check_weights(cfg)
    except ConfigError as exc:
        print_error(exc)
        return EXIT_USAGE

    root = paths.cache_dir()
    os.environ["KERAS_HOME"] = str(paths.keras_home(root))
    store = open_store(root)
    plan = plan_run(cfg, args.name or run_title(cfg.to_dict()))
    study_id, trial_ids = store.create_study(
        plan.name, plan.kind, plan.configs, spec={"source": "cli"}, reserve_for=os.getpid()
    )
    logger.info("study %d: %s, %d epochs", study_id, plan.name, cfg.epochs)

    statuses = []
    for trial_id in trial_ids:
        if len(trial_ids) > 1:
            logger.info("fold %d/%d", store.trial(trial_id).number + 1, len(trial_ids))
        statuses.append(train_one(store, trial_id, root, cfg.epochs))
        if statuses[-1] == Status.CANCELLED:
            for rest in trial_ids[len(statuses) :]:
                store.finish_trial(rest, Status.CANCELLED)
            break

    trials = [store.trial(t) for t in trial_ids]
    last = trials[len(statuses) - 1]
    summary = {
        "study": study_id,
        "trial": trial_ids[0] if len(trial_ids) == 1 else trial_ids,
        "status": str(statuses[-1]) if len(set(statuses)) == 1 else "mixed",
        "test_accuracy": last.test_accuracy,
        "test_loss": last.test_loss,
        "seconds_per_epoch": last.results.get("seconds_per_epoch"),
        "epochs_run": len(store.epochs(last.id)),
        "artifacts": last.results.get("artifacts", {}),
        "error": last.error,
    }
    if len(trial_ids) > 1:
        folds = summarize_folds(trials)
        summary.update(
            test_accuracy=folds.mean_accuracy,
            test_accuracy_std=folds.std_accuracy,
            fold_accuracies=folds.accuracies,
            test_loss=None,
        )
        if folds.mean_accuracy is not None:
            spread = f" ± {folds.std_accuracy:.4f}" if folds.std_accuracy is not None else ""
            logger.info(
                "%d/%d folds: test_accuracy=%.4f%s",
                folds.finished,
                folds.folds,
                folds.mean_accuracy,
                spread,
            )
    if args.json:
        print(json.dumps(summary))
    return EXIT_OK if set(statuses) == {Status.COMPLETED} else EXIT_FAILED


def train_one(store: Store, trial_id: int, root: Path, epochs: int) -> Status:
    """Train one queued trial in this process, with a progress line per epoch and one at the end.

    Ctrl-C cancels the trial between batches (its finished epochs stay in the store).

    Returns:
        How the trial ended.
    """
    from core.engine.monitor import TrialMonitor  # no TensorFlow: it beats from the start

    if not store.claim(trial_id):  # cancelled (or taken) while an earlier one trained
        return store.trial(trial_id).status

    def on_epoch(epoch: int, metrics: dict[str, float], seconds: float) -> None:
        shown = "  ".join(
            f"{k}={v:.4g}" if k == "learning_rate" else f"{k}={v:.4f}" for k, v in metrics.items()
        )
        logger.info("epoch %d/%d  %s  (%.1fs)", epoch + 1, epochs, shown, seconds)

    with TrialMonitor(store, trial_id) as monitor:
        previous = signal.signal(signal.SIGINT, lambda *_: monitor.cancelled.set())
        try:
            from core.engine.training import run_trial  # TensorFlow loads here, while it beats

            status = run_trial(store, store.trial(trial_id), monitor, root, on_epoch)
        finally:
            signal.signal(signal.SIGINT, previous)
    trial = store.trial(trial_id)
    if status == Status.COMPLETED and trial.test_accuracy is not None:
        logger.info(
            "%s: test_accuracy=%.4f test_loss=%.4f", status, trial.test_accuracy, trial.test_loss
        )
    else:
        logger.info("%s: %s", status, trial.error or "stopped")
    return status
