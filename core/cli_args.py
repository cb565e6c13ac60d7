"""What the commands of ``python -m core`` share: turning their flags into one run config."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from core.config import ConfigError, RunConfig, parse_assignment


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
