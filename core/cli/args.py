"""What the commands of ``python -m core`` share: exit statuses, flags, one run config, progress.

Every command exits with ``EXIT_OK`` (done), ``EXIT_FAILED`` (it ran, and a run failed, was
cancelled or could not be written) or ``EXIT_USAGE`` (bad input, one line on stderr, nothing
queued). The lines a command writes while it works (epochs, runs, trials, the final status)
go through the ``core.cli`` loggers (:func:`show_progress`); results and errors are printed.
Whatever they quote (names, folders, values a person typed) prints as one line of visible
characters: control characters show as escapes such as ``\\x1b`` (``core.spec.quoting``).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import stat
import sys
from pathlib import Path
from typing import Any, TextIO

from core.spec.config import ConfigError, RunConfig, load_json, parse_assignment
from core.spec.quoting import printable
from core.worker.logs import LineFormatter, attach_handler

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
# The largest config or search-space file read: such a file is a few kilobytes, and reading is
# capped so that a wrong path (a disk image, a log) fails at once instead of filling memory.
MAX_FILE_BYTES = 2**20
_NOT_FILES = {
    stat.S_IFDIR: "a folder",
    stat.S_IFIFO: "a named pipe (FIFO)",
    stat.S_IFCHR: "a device",
    stat.S_IFBLK: "a device",
    stat.S_IFSOCK: "a socket",
}

logger = logging.getLogger(__name__)


class CommandParser(argparse.ArgumentParser):
    """An argument parser whose usage errors are one line and exit status ``EXIT_USAGE``."""

    def error(self, message: str) -> None:  # type: ignore[override]
        """Print the message and where to read more, in one line, and exit."""
        print_error(f"{message} (see {self.prog} --help)")
        sys.exit(EXIT_USAGE)


def print_error(message: object) -> None:
    """Print ``error: MESSAGE`` to stderr as one line, its control characters escaped.

    Args:
        message: What went wrong; an exception prints its message. It may quote what a
            person typed, which cannot then clear the terminal or start a line of its own.
            A config refused for several values prints a line for each.
    """
    problems = message.problems if isinstance(message, ConfigError) else (message,)
    for problem in problems:
        print(f"error: {printable(str(problem))}", file=sys.stderr)


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


def no_wait_flag() -> argparse.ArgumentParser:
    """``--no-wait``: queue the work for the worker pool and return at once, as a parent parser."""
    flags = argparse.ArgumentParser(add_help=False)
    flags.add_argument(
        "--no-wait",
        action="store_true",
        help="queue the runs for the worker pool (python -m core.worker) and return at once, "
        "printing the study id, instead of training here",
    )
    return flags


def hand_to_pool(root: Path, study_id: int, trial_ids: list[int], as_json: bool) -> int:
    """For ``--no-wait``: make sure a worker pool runs the queued study, say so, return 0.

    Prints the study id (with ``--json``, one line ``{"study", "trials", "status",
    "worker_started"}``) and where to follow the runs.
    """
    from core.worker.launch import ensure_worker

    started = ensure_worker(root)
    count = "1 run" if len(trial_ids) == 1 else f"{len(trial_ids)} runs"
    pool = "a worker pool started for them" if started else "the worker pool takes them"
    logger.info(
        "study %d: %s queued, %s; follow them with: python -m core runs", study_id, count, pool
    )
    if as_json:
        print(json.dumps(
            {"study": study_id, "trials": trial_ids, "status": "queued", "worker_started": started}
        ))  # fmt: skip
    else:
        print(study_id)
    return EXIT_OK


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
        text = read_text_file(args.config, "--config")
        data.update(RunConfig.from_dict(load_json(text, "config", args.config)).to_dict())
    for key in ("dataset", "epochs"):
        if getattr(args, key) is not None:
            data[key] = getattr(args, key)
    for item in args.set:
        key, value = parse_assignment(item)
        data[key] = value
    return RunConfig.from_dict(data)


def read_text_file(path: str, flag: str) -> str:
    """The text of a small UTF-8 file a person named on the command line (a UTF-8 BOM is fine).

    Only a regular file is opened (a FIFO would block the open, a device never ends), and at
    most ``MAX_FILE_BYTES`` of it are read.

    Args:
        path: The file.
        flag: The flag that named it, e.g. ``--config``; a refusal names it.

    Raises:
        ConfigError: naming ``flag`` and the file when it cannot be read, is not a regular
            file, is larger than ``MAX_FILE_BYTES`` or is not UTF-8 text.
    """
    try:
        _check_regular(path, flag, os.stat(path))
        # O_NONBLOCK: should the path become a FIFO after the check, the open still returns.
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
        with os.fdopen(fd, "rb") as handle:
            _check_regular(path, flag, os.fstat(handle.fileno()))
            data = handle.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise ConfigError(flag, f"cannot read {path}: {exc.strerror}.") from None
    if len(data) > MAX_FILE_BYTES:  # it grew after the check
        raise ConfigError(flag, f"{path} is larger than {MAX_FILE_BYTES // 2**20} MiB.")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ConfigError(
            flag, f"{path} is not UTF-8 text (at byte {exc.start:,}); save it as UTF-8."
        ) from None
    if "\x00" in text:  # valid UTF-8 that no text holds: UTF-16 without a BOM, or binary
        raise ConfigError(flag, f"{path} is not UTF-8 text (it holds NUL bytes); save it as UTF-8.")
    return text


def _check_regular(path: str, flag: str, info: os.stat_result) -> None:
    if not stat.S_ISREG(info.st_mode):
        what = _NOT_FILES.get(stat.S_IFMT(info.st_mode), "a special file")
        raise ConfigError(flag, f"{path} is {what}, not a regular file; give a JSON file.")
    if info.st_size > MAX_FILE_BYTES:
        raise ConfigError(
            flag,
            f"{path} is {info.st_size:,} bytes; such a file is at most {MAX_FILE_BYTES:,} "
            f"bytes ({MAX_FILE_BYTES // 2**20} MiB).",
        )


def show_progress(stream: TextIO) -> None:
    """Write the ``core.cli`` loggers' progress lines to ``stream``, as bare lines.

    A person reads them as the command's output, so they carry no timestamp or level; each
    is one line, whatever name or error it quotes (``LineFormatter``). The commands call it
    with stderr under ``--json`` (stdout then holds only the JSON line) and with stdout
    otherwise.
    """
    attach_handler("core.cli", stream, LineFormatter("%(message)s"), logging.INFO)
