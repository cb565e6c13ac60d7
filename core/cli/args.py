"""What the commands of ``python -m core`` share: exit statuses, flags, one run config, progress.

Every command exits with ``EXIT_OK`` (done), ``EXIT_FAILED`` (it ran, and a run failed, was
cancelled or could not be written) or ``EXIT_USAGE`` (bad input, one line on stderr, nothing
queued). The lines a command writes while it works (epochs, runs, trials, the final status)
go through the ``core.cli`` loggers (:func:`show_progress`); results and errors are printed.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import Any, TextIO

from core.spec.config import ConfigError, RunConfig, parse_assignment
from core.worker.logs import attach_handler

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


class CommandParser(argparse.ArgumentParser):
    """An argument parser whose usage errors are one line and exit status ``EXIT_USAGE``."""

    def error(self, message: str) -> None:  # type: ignore[override]
        """Print the message and where to read more, in one line, and exit."""
        print(
            f"error: {message} (see python -m core {self.prog.split()[-1]} --help)", file=sys.stderr
        )
        sys.exit(EXIT_USAGE)


def config_flags() -> argparse.ArgumentParser:
    """The flags that describe a run (or a sweep's or search's base run), as a parent parser.

    ``--dataset``, ``--epochs``, ``--set KEY=VALUE`` (repeatable), ``--config FILE`` and
    ``--name``; :func:`config_from_args` reads the first four into one config.
    """
    flags = argparse.ArgumentParser(add_help=False)
    flags.add_argument(
        "--dataset",
        help="built-in dataset (digits, mnist, fashion_mnist, ...), a folder of class folders, "
        "or a .zip of class folders",
    )
    flags.add_argument("--epochs", type=int, help="number of epochs of each run")
    flags.add_argument(
        "--set", action="append", default=[], metavar="KEY=VALUE", help="any config value"
    )
    flags.add_argument("--config", help="a JSON file with config values (run.json)")
    flags.add_argument("--name", help="study name shown in the app")
    return flags


def json_flag() -> argparse.ArgumentParser:
    """``--json``: end with one JSON line (the command's result), as a parent parser."""
    flags = argparse.ArgumentParser(add_help=False)
    flags.add_argument("--json", action="store_true", help="end with one JSON line")
    return flags


def config_from_args(args: argparse.Namespace, start: dict[str, Any] | None = None) -> RunConfig:
    """Merge ``start``, the ``--config`` file, ``--dataset``/``--epochs`` and ``--set`` pairs.

    Later sources win: a ``--set`` pair over a shortcut flag over the file over ``start``.

    Args:
        args: Parsed flags with ``config``, ``dataset``, ``epochs`` and ``set``.
        start: Values to begin from (e.g. a preset's base config).

    Returns:
        The validated config.

    Raises:
        ConfigError: naming the first bad value, or ``--config`` when the file cannot be read.
    """
    data: dict[str, Any] = dict(start or {})
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


def show_progress(stream: TextIO) -> None:
    """Write the ``core.cli`` loggers' progress lines to ``stream``, as bare lines.

    A person reads them as the command's output, so they carry no timestamp or level. The
    commands call it with stderr under ``--json`` (stdout then holds only the JSON line) and
    with stdout otherwise.
    """
    attach_handler("core.cli", stream, logging.Formatter("%(message)s"), logging.INFO)
