"""Command-line interface: the same jobs as the app, through the same store.

    python -m core train --dataset digits --epochs 5 [--set key=value ...] [--json]
    python -m core sweep --param batch_size --values 20,100,1000 [--repeats 3] [--json]
    python -m core tune --preset report000 [--time-budget SECONDS] [--json]
    python -m core runs [--json]
    python -m core export TRIAL --out DIR
    python -m core fork TRIAL --epoch K [--set key=value ...] [--json]

One module per command: ``core.cli.train``, ``core.cli.sweep``, ``core.cli.tune`` (with
``worker --join``), ``core.cli.runs`` (``runs`` and ``export``) and ``core.cli.fork``. The flags
they share and the exit statuses are in ``core.cli.args``. Bad input, and an ``HPE_*`` setting
that cannot be used, print one line and exit with status 2; a store that is damaged, busy or
deleted under the command, or a disk too full to save a run's files, prints one line and exits
with status 1 (the run is marked failed with that line).
"""

from __future__ import annotations

import argparse
import sys

from core.cli.args import EXIT_FAILED, EXIT_USAGE, CommandParser, print_error, show_progress
from core.cli.fork import add_fork_command
from core.cli.runs import add_run_commands
from core.cli.sweep import add_sweep_command
from core.cli.train import add_train_command
from core.cli.tune import add_tune_command
from core.store import StoreError, settings
from core.store.disk_space import DiskFull
from core.store.settings import SettingError


def make_parser() -> argparse.ArgumentParser:
    """Return the parser of ``python -m core``."""
    parser = CommandParser(
        prog="python -m core", description="Hyperparameter Explorer from the shell."
    )
    sub = parser.add_subparsers(dest="command", required=True, parser_class=CommandParser)
    add_train_command(sub)
    add_run_commands(sub)
    add_tune_command(sub)
    add_sweep_command(sub)
    add_fork_command(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    args = make_parser().parse_args(argv)
    # Progress goes where the result is not: stderr when stdout is kept for the JSON line.
    show_progress(sys.stderr if getattr(args, "json", False) else sys.stdout)
    try:
        settings.check_all()
    except SettingError as exc:  # an HPE_* variable that cannot be used: one line
        print_error(exc.message)
        return EXIT_USAGE
    try:
        return args.run(args)
    except (StoreError, DiskFull) as exc:  # damaged, busy, deleted, or a full disk: one line
        print_error(exc.message)
        return EXIT_FAILED
