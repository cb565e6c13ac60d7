"""Command-line interface: the same jobs as the app, through the same store.

    python -m core train --dataset digits --epochs 5 [--set key=value ...] [--config run.json]
                         [--name NAME] [--json]

``train`` records a study in the store and trains it in this process, printing one line per
epoch; with ``--json`` the last line is one JSON object with the study, trial, status, test
metrics and artifact paths. Bad input prints one line and exits with status 2.

``--dataset`` takes a built-in dataset, a folder of class folders, or a ``.zip`` of them, which
is unpacked into the cache first (``core.folders.add_upload``; the same zip is unpacked once).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
from pathlib import Path
from typing import Any

from core import paths
from core.config import ConfigError, RunConfig, parse_assignment
from core.datasets import check_available
from core.folders import add_upload
from core.store import Status, Store

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def build_config(args: argparse.Namespace) -> RunConfig:
    """Merge ``--config`` file, shortcut flags and ``--set`` pairs into one validated config.

    Raises:
        ConfigError: naming the first bad value.
    """
    data: dict[str, Any] = {}
    if args.config is not None:
        try:
            text = Path(args.config).read_text()
        except OSError as exc:
            raise ConfigError("--config", f"cannot read {args.config}: {exc.strerror}.") from None
        data.update(RunConfig.from_json(text).to_dict())
    for key in ("dataset", "epochs"):
        if getattr(args, key) is not None:
            data[key] = getattr(args, key)
    for item in args.set:
        key, value = parse_assignment(item)
        data[key] = value
    return RunConfig.from_dict(data)


def _train(args: argparse.Namespace) -> int:
    try:
        if args.dataset and args.dataset.lower().endswith(".zip"):
            args.dataset = str(add_upload(Path(args.dataset)))
        cfg = build_config(args)
        check_available(cfg.dataset)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE

    root = paths.cache_dir()
    os.environ["KERAS_HOME"] = str(paths.keras_home(root))
    store = Store(paths.store_path(root))
    name = args.name or f"{cfg.model} on {cfg.dataset}"
    study_id, (trial_id,) = store.create_study(
        name, "single", [cfg], spec={"source": "cli"}, claim_pid=os.getpid()
    )
    out = sys.stderr if args.json else sys.stdout
    print(f"study {study_id}, trial {trial_id}: training {name} for {cfg.epochs} epochs", file=out)

    from core.training import TrialMonitor, run_trial  # TensorFlow loads here

    def on_epoch(epoch: int, metrics: dict[str, float], seconds: float) -> None:
        shown = "  ".join(f"{k}={v:.4f}" for k, v in metrics.items() if k != "learning_rate")
        print(f"epoch {epoch + 1}/{cfg.epochs}  {shown}  ({seconds:.1f}s)", file=out, flush=True)

    trial = store.trial(trial_id)
    with TrialMonitor(store, trial_id) as monitor:
        previous = signal.signal(signal.SIGINT, lambda *_: monitor.cancelled.set())
        try:
            status = run_trial(store, trial, monitor, root, on_epoch)
        finally:
            signal.signal(signal.SIGINT, previous)

    trial = store.trial(trial_id)
    summary = {
        "study": study_id,
        "trial": trial_id,
        "status": str(status),
        "test_accuracy": trial.test_accuracy,
        "test_loss": trial.test_loss,
        "seconds_per_epoch": trial.results.get("seconds_per_epoch"),
        "epochs_run": len(store.epochs(trial_id)),
        "artifacts": trial.results.get("artifacts", {}),
        "error": trial.error,
    }
    if status == Status.COMPLETED:
        print(
            f"{status}: test_accuracy={trial.test_accuracy:.4f} test_loss={trial.test_loss:.4f}",
            file=out,
        )
    else:
        print(f"{status}: {trial.error or 'stopped'}", file=out)
    if args.json:
        print(json.dumps(summary))
    return EXIT_OK if status == Status.COMPLETED else EXIT_FAILED


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
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    args = make_parser().parse_args(argv)
    return args.run(args)
