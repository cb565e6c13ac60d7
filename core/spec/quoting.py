"""How a message quotes a value a person gave: its repr, cut to a few dozen characters.

A config or search-space file may hold a megabyte of text, a thousand-deep list or a
5,000-digit number; a refusal quotes enough of it to recognise, on one short line.
"""

from __future__ import annotations

import math
import reprlib
from typing import Any

# The most characters a quoted value takes; reprlib shortens each part, this the whole.
_WIDTH = 80
_SHORT = reprlib.Repr()
_SHORT.maxstring = _SHORT.maxother = _WIDTH
_SHORT.maxlevel, _SHORT.maxlist, _SHORT.maxdict = 3, 6, 6


def shown_value(value: Any) -> str:
    """``value`` as a message quotes it: ``'adam'``, ``[16, 64]``, ``'xxxxx...xxxxx'``."""
    if isinstance(value, int) and value.bit_length() > 256:  # repr refuses the longest ones
        return f"a whole number of about {int(value.bit_length() * math.log10(2)):,} digits"
    text = _SHORT.repr(value)
    return text if len(text) <= _WIDTH else text[: _WIDTH - 3] + "..."
