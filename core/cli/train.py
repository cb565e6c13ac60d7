"""``python -m core train``: train one run (or its k folds) in this process, through the store.

    python -m core train --dataset digits --epochs 5 [--set key=value ...] [--config run.json]
                         [--name NAME] [--json]

It records a study in the store and trains it here, printing one line per epoch and one with
each accuracy, its image count and 95% interval; with ``--json`` the last line is one JSON
object with the study, trial, status, scores (:func:`score_fields`; for k folds
:func:`fold_fields`) and artifact paths. ``--dataset`` takes a built-in dataset, a folder of
class folders, or a ``.zip`` of them, which is unpacked into the cache first
(``core.data.folders.add_upload``; the same zip is unpacked once).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import statistics
from pathlib import Path
from typing import Any

from core.analysis.folds import FoldSummary, summarize_folds
from core.analysis.trial_scores import accuracy_on_test, accuracy_on_validation, macro_f1_of
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
from core.data.checks import check_config
from core.data.folders import add_upload
from core.data.names import run_title
from core.data.weights import check_weights
from core.spec.config import ConfigError, RunConfig
from core.spec.plan import plan_run
from core.spec.scores import Score
from core.store import Status, Store, Trial, open_store, paths

logger = logging.getLogger(__name__)


def add_train_command(sub: Any) -> None:
    """Add ``train`` to the subcommands of ``python -m core``."""
    train = sub.add_parser(
        "train",
        parents=[config_flags(), json_flag(), no_wait_flag()],
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
        plan.name,
        plan.kind,
        plan.configs,
        spec={"source": "cli"},
        reserve_for=None if args.no_wait else os.getpid(),
    )
    shown = args.name or run_title(cfg.to_dict(), omit=("epochs",))  # the count follows
    logger.info("study %d: %s, %d epochs", study_id, shown, cfg.epochs)
    if args.no_wait:
        return hand_to_pool(root, study_id, trial_ids, args.json)

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
        **score_fields(last),
        "seconds_per_epoch": last.results.get("seconds_per_epoch"),
        "epochs_run": len(store.epochs(last.id)),
        "artifacts": last.results.get("artifacts", {}),
        "error": last.error,
    }
    if len(trial_ids) > 1:
        folds = summarize_folds(trials)
        summary.update(fold_fields(folds))
        if folds.mean_accuracy is not None:
            logger.info("%s", fold_line(folds))
    if args.json:
        print(json.dumps(summary))
    return EXIT_OK if set(statuses) == {Status.COMPLETED} else EXIT_FAILED


def score_fields(trial: Trial) -> dict[str, Any]:
    """A trial's scores for ``--json``: each accuracy with its images and 95% interval.

    ``test_accuracy``, ``test_loss``, ``test_images``, ``test_accuracy_ci`` (``[low, high]``),
    the same for ``val_``, and ``macro_f1`` with ``macro_f1_ci``; None where there is none
    (no ``test_`` scores for a folder too small for a test set).
    """
    test, val, f1 = accuracy_on_test(trial), accuracy_on_validation(trial), macro_f1_of(trial)
    return {
        "test_accuracy": trial.test_accuracy,
        "test_loss": trial.test_loss,
        "test_images": test.images if test else None,
        "test_accuracy_ci": test.ci if test else None,
        "val_accuracy": val.value if val else None,
        "val_loss": trial.results.get("val_loss"),
        "val_images": val.images if val else None,
        "val_accuracy_ci": val.ci if val else None,
        "macro_f1": f1.value if f1 else None,
        "macro_f1_ci": f1.ci if f1 else None,
    }


def fold_fields(folds: FoldSummary) -> dict[str, Any]:
    """A k-fold study's scores for ``--json``.

    ``val_accuracy`` and ``val_accuracy_std``: mean and std over the folds, each scored on
    its own held-out images; ``fold_values`` and ``fold_images``: each fold's; ``val_images``
    and ``val_accuracy_ci``: all held-out images pooled. ``test_accuracy``, ``test_images``
    and ``test_accuracy_ci``: the fold models' mean on the test images, ``test_accuracy_std``
    and ``test_fold_values`` their spread (None without a test set).
    """
    pooled, test = folds.pooled, folds.test
    values = folds.test_values
    return {
        "val_accuracy": folds.mean_accuracy,
        "val_accuracy_std": folds.std_accuracy,
        "val_loss": None,
        "fold_values": folds.fold_values,
        "fold_images": folds.fold_images,
        "val_images": pooled.images if pooled else None,
        "val_accuracy_ci": pooled.ci if pooled else None,
        "test_accuracy": test.value if test else None,
        "test_accuracy_std": statistics.stdev(values) if len(values) > 1 else None,
        "test_loss": None,
        "test_images": test.images if test else None,
        "test_accuracy_ci": test.ci if test else None,
        "test_fold_values": values,
        "macro_f1": None,
        "macro_f1_ci": None,
    }


def fold_line(folds: FoldSummary) -> str:
    """``3/3 folds: val_accuracy=0.8556 ± 0.0314 (pooled 95% CI ..., 72 images) ...``."""
    spread = f" ± {folds.std_accuracy:.4f}" if folds.std_accuracy is not None else ""
    line = f"{folds.finished}/{folds.folds} folds: val_accuracy={folds.mean_accuracy:.4f}{spread}"
    if folds.pooled is not None:
        line += f" ({_interval(folds.pooled)}, all held-out images)"
    if folds.test is not None:
        line += f"  test_accuracy={folds.test.value:.4f} ({_interval(folds.test)}, fold mean)"
    else:
        line += "  no test set"
    return line


def _interval(score: Score) -> str:
    """``95% CI 0.9059-0.9561, 360 images``, or less where less is known."""
    ci = f"95% CI {score.low:.4f}-{score.high:.4f}, " if score.ci else ""
    return f"{ci}{score.images or '?'} images"


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
    if status == Status.COMPLETED:
        logger.info("%s: %s", status, result_line(trial))
    else:
        logger.info("%s: %s", status, trial.error or "stopped")
    return status


def result_line(trial: Trial) -> str:
    """``test_accuracy=0.9361 (95% CI 0.9059-0.9561, 360 images) test_loss=0.2140 ...``.

    A run without a test set (a folder too small for one) says so and gives its validation
    accuracy, suggesting folds.
    """
    parts = []
    if (test := accuracy_on_test(trial)) is not None:
        parts.append(f"test_accuracy={test.value:.4f} ({_interval(test)})")
        parts.append(f"test_loss={trial.test_loss:.4f}")
    if (val := accuracy_on_validation(trial)) is not None:
        parts.append(f"val_accuracy={val.value:.4f} ({_interval(val)})")
    if test is None and (trial.results.get("sizes") or {}).get("test") == 0:
        parts.append("no test set: the folder is too small for one; train with --set folds=5")
    if unreadable := trial.results.get("unreadable"):
        noun = "image" if len(unreadable) == 1 else "images"
        parts.append(
            f"{len(unreadable)} {noun} that cannot be used left out ({', '.join(unreadable)})"
        )
    return "  ".join(parts) or "not tested"
