"""Command-line interface: the same jobs as the app, through the same store.

    python -m core train --dataset digits --epochs 5 [--set key=value ...] [--config run.json]
                         [--name NAME] [--json]
    python -m core runs [--json]
    python -m core export TRIAL --out DIR
    python -m core fork TRIAL --epoch K [--set key=value ...] [--json]

``train`` records a study in the store and trains it in this process, printing one line per
epoch; with ``--json`` the last line is one JSON object with the study, trial, status, test
metrics and artifact paths. Bad input prints one line and exits with status 2.

``--dataset`` takes a built-in dataset, a folder of class folders, or a ``.zip`` of them, which
is unpacked into the cache first (``core.folders.add_upload``; the same zip is unpacked once).

``runs`` and ``export`` (``core.runs_cli``) list every recorded run and copy one run's files out.
``tune`` and ``worker --join`` (``core.tune_cli``) run keras-tuner searches.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
from pathlib import Path
from typing import TextIO

from core import paths
from core.cli_args import config_from_args
from core.config import ConfigError, RunConfig
from core.datasets import check_available
from core.folders import add_upload
from core.fork_cli import add_fork_command
from core.runs_cli import add_run_commands
from core.store import Status, Store
from core.studies import plan_run, run_title, summarize_folds
from core.sweep_cli import add_sweep_command
from core.tune_cli import add_tune_command
from core.weights import check_weights

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def build_config(args: argparse.Namespace) -> RunConfig:
    """Merge ``--config`` file, shortcut flags and ``--set`` pairs into one validated config.

    Raises:
        ConfigError: naming the first bad value.
    """
    return config_from_args(args)


def _train(args: argparse.Namespace) -> int:
    try:
        if args.dataset and args.dataset.lower().endswith(".zip"):
            args.dataset = str(add_upload(Path(args.dataset)))
        cfg = build_config(args)
        check_available(cfg.dataset)
        check_weights(cfg)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE

    root = paths.cache_dir()
    os.environ["KERAS_HOME"] = str(paths.keras_home(root))
    store = Store(paths.store_path(root))
    plan = plan_run(cfg, args.name or run_title(cfg.to_dict()))
    study_id, trial_ids = store.create_study(
        plan.name, plan.kind, plan.configs, spec={"source": "cli"}, claim_pid=os.getpid()
    )
    out = sys.stderr if args.json else sys.stdout
    print(f"study {study_id}: {plan.name}, {cfg.epochs} epochs", file=out)

    statuses = []
    for trial_id in trial_ids:
        if len(trial_ids) > 1:
            print(f"fold {store.trial(trial_id).number + 1}/{len(trial_ids)}", file=out)
        statuses.append(_train_one(store, trial_id, root, cfg.epochs, out))
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
            print(
                f"{folds.finished}/{folds.folds} folds: test_accuracy={folds.mean_accuracy:.4f}"
                f"{spread}",
                file=out,
            )
    if args.json:
        print(json.dumps(summary))
    return EXIT_OK if set(statuses) == {Status.COMPLETED} else EXIT_FAILED


def _train_one(store: Store, trial_id: int, root: Path, epochs: int, out: TextIO) -> Status:
    """Train one trial in this process, printing a line per epoch and one at the end."""
    from core.training import TrialMonitor, run_trial  # TensorFlow loads here

    def on_epoch(epoch: int, metrics: dict[str, float], seconds: float) -> None:
        shown = "  ".join(f"{k}={v:.4f}" for k, v in metrics.items() if k != "learning_rate")
        print(f"epoch {epoch + 1}/{epochs}  {shown}  ({seconds:.1f}s)", file=out, flush=True)

    with TrialMonitor(store, trial_id) as monitor:
        previous = signal.signal(signal.SIGINT, lambda *_: monitor.cancelled.set())
        try:
            status = run_trial(store, store.trial(trial_id), monitor, root, on_epoch)
        finally:
            signal.signal(signal.SIGINT, previous)
    trial = store.trial(trial_id)
    if status == Status.COMPLETED:
        print(
            f"{status}: test_accuracy={trial.test_accuracy:.4f} test_loss={trial.test_loss:.4f}",
            file=out,
        )
    else:
        print(f"{status}: {trial.error or 'stopped'}", file=out)
    return status


class _Parser(argparse.ArgumentParser):
    """An argument parser whose usage errors are one line and exit status 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        print(
            f"error: {message} (see python -m core {self.prog.split()[-1]} --help)", file=sys.stderr
        )
        sys.exit(EXIT_USAGE)


def make_parser() -> argparse.ArgumentParser:
    """Return the parser of ``python -m core``."""
    parser = _Parser(prog="python -m core", description="Hyperparameter Explorer from the shell.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    train = sub.add_parser("train", help="train one model and record it in the store")
    train.add_argument(
        "--dataset",
        help="built-in dataset (digits, mnist, fashion_mnist, ...), a folder of class folders, "
        "or a .zip of class folders",
    )
    train.add_argument("--epochs", type=int, help="number of epochs")
    train.add_argument(
        "--set", action="append", default=[], metavar="KEY=VALUE", help="any config value"
    )
    train.add_argument("--config", help="a JSON file with config values (run.json)")
    train.add_argument("--name", help="study name shown in the app")
    train.add_argument("--json", action="store_true", help="end with one JSON line")
    train.set_defaults(run=_train)
    add_run_commands(sub)
    add_tune_command(sub)
    add_sweep_command(sub)
    add_fork_command(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    args = make_parser().parse_args(argv)
    return args.run(args)
