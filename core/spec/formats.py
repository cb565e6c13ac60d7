"""How the app writes numbers, on every page and in the CLI: one vocabulary, one module.

- a share (accuracy, precision, a gap) is a percent with one decimal: ``37.5%``, ``10.0%``;
- a loss has four decimals: ``0.1370``;
- a setting's value is written as people write it: ``0.01``, ``0.00134``, ``1e-4``, ``64``;
- a duration comes from ``core.spec.durations``: ``42 s``, ``3 min 5 s``;
- a count names its noun in the right number: ``1 file``, ``2,000 images``;
- a missing value is a dash, ``—``, never ``None`` or ``nan``.

Tables keep their numbers as numbers (so they sort), with the printf formats below for their
columns; a share column holds percentage points (``percent_points``) so that every share
reads with the same single decimal.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

from core.spec.durations import format_duration

__all__ = [
    "LOSS_FORMAT",
    "MISSING",
    "PERCENT_FORMAT",
    "SETTING_FORMAT",
    "count",
    "format_duration",
    "is_missing",
    "loss",
    "number",
    "percent",
    "percent_points",
    "setting",
]

# What stands in a cell, a metric or a line for a value that is not known.
MISSING = "—"
# printf formats of table columns (Streamlit's column_config ``format``):
PERCENT_FORMAT = "%.1f%%"  # of a column in percentage points (see percent_points)
LOSS_FORMAT = "%.4f"
SETTING_FORMAT = "%.3g"  # a float setting such as the learning rate: 0.00134, 1e-05


def is_missing(value: Any) -> bool:
    """Whether a value is unknown: None, or a float NaN (how pandas marks a missing number)."""
    return value is None or (isinstance(value, float) and math.isnan(value))


def percent(value: float | None, digits: int = 1) -> str:
    """A share as a percent: ``0.375`` → ``37.5%``, ``0.1`` → ``10.0%``; unknown → ``—``."""
    if is_missing(value):
        return MISSING
    return f"{float(value):.{digits}%}"


def loss(value: float | None) -> str:
    """A loss to four decimals, ``0.1370``; unknown → ``—``."""
    return MISSING if is_missing(value) else f"{float(value):.4f}"


def number(value: float) -> str:
    """A number as people write it, to three significant digits.

    ``0.01``, ``0.3``, ``0.00134``, ``1e-4``, ``3e-5``, ``20``, ``1024``: small numbers in
    short scientific notation, the rest without trailing zeros.
    """
    if value and abs(value) < 1e-3:
        mantissa, exponent = f"{value:.2e}".split("e")
        return f"{mantissa.rstrip('0').rstrip('.')}e{int(exponent)}"
    if float(value).is_integer() and abs(value) < 1e15:
        return str(int(value))
    return f"{value:.3g}"


def setting(value: Any) -> str:
    """A setting's value as a person reads it: numbers by ``number``, on/off, lists joined.

    ``0.00134``, ``adam``, ``on``, ``16, 32``; unknown → ``—``.
    """
    if is_missing(value):
        return MISSING
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, float):
        return number(value)
    if isinstance(value, (list, tuple)):
        return ", ".join(setting(v) for v in value) or "none"
    return str(value)


def count(n: int, noun: str, plural: str | None = None) -> str:
    """A count with its noun in the right number: ``1 file``, ``2,000 images``, ``0 runs``."""
    word = noun if n == 1 else (plural or f"{noun}s")
    return f"{n:,} {word}"


def percent_points(frame: Any, columns: Iterable[str]) -> Any:
    """A copy of a pandas frame whose share columns (0..1) are in percentage points (0..100).

    For table columns shown with ``PERCENT_FORMAT``; columns the frame lacks are skipped.
    """
    out = frame.copy()
    for column in columns:
        if column in out.columns:
            out[column] = out[column].astype(float) * 100.0
    return out
