"""How many points a grid search has, counted the way keras-tuner walks them, never listed.

keras-tuner's ``GridSearch`` visits every value of every searched key: each choice, and each
step of a stepped range as ``hp.Int`` and ``hp.Float`` count them. A linear range has
``(max - min) // step + 1`` values, by floor division on the floats it is given, so 0 to 1 in
steps of 0.1 is 10 values (0 to 0.9: the float nearest 0.1 is a little above a tenth); a
log-scale range steps by a factor, ``int(log_step(max / min) + 1e-8) + 1`` values. The counts
are exact (``fractions.Fraction``), so a tiny step over a wide range is a large number, not an
overflow or a list that fills the memory.
"""

from __future__ import annotations

import math
from fractions import Fraction
from typing import TYPE_CHECKING

from core.spec.config import ConfigError

if TYPE_CHECKING:
    from core.spec.search_space import Dimension

# The most combinations a grid search may have: keras-tuner lists every value of each key at
# each trial, and a search this size already runs for days.
MAX_GRID_POINTS = 100_000
# Sizes are multiplied up to here and no further, so a message can print the number.
_CEILING = 10**18


def value_count(dim: Dimension) -> int | None:
    """How many values a grid search visits for one dimension.

    Returns:
        The count, or None for a range keras-tuner samples rather than steps through (a range
        with no step, or an int range on a log scale with none).
    """
    if dim.kind == "fixed":
        return 1
    if dim.kind == "choice":
        return len(dim.values)
    if dim.log:
        if dim.step is None:
            return None
        return int(math.log(dim.high / dim.low, dim.step) + 1e-8) + 1
    if dim.kind == "int":
        return (int(dim.high) - int(dim.low)) // int(dim.step or 1) + 1
    if dim.step is None:
        return None
    span = float(dim.high) - float(dim.low)  # keras-tuner subtracts in floating point first
    return int(Fraction(span) // Fraction(dim.step)) + 1


def grid_points(dims: tuple[Dimension, ...]) -> int | None:
    """Combinations of the dimensions' values (at most ``10**18``), or None if one is a
    continuous range."""
    total = 1
    for dim in dims:
        count = value_count(dim)
        if count is None:
            return None
        total = min(total * count, _CEILING)
    return total


def check_grid(dims: tuple[Dimension, ...]) -> None:
    """Refuse a grid search over a continuous range, or over more than ``MAX_GRID_POINTS``.

    Raises:
        ConfigError: naming the continuous range, or the key with the most values.
    """
    counts = {}
    for dim in dims:
        counts[dim.key] = value_count(dim)
        if counts[dim.key] is None:
            raise ConfigError(
                dim.key, "grid search needs a step for every float range (and no log scale)."
            )
    total = grid_points(dims)
    if total is not None and total > MAX_GRID_POINTS:
        shown = f"{total:,}" if total < _CEILING else f"more than {_CEILING:,}"
        raise ConfigError(
            max(counts, key=lambda k: counts[k] or 0),
            f"grid search would try {shown} combinations; the most it runs is "
            f"{MAX_GRID_POINTS:,}: narrow a range or raise its step.",
        )
