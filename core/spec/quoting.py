"""How a message quotes a value a person gave: its repr, cut to a few dozen characters.

A config or search-space file may hold a megabyte of text, a thousand-deep list or a
5,000-digit number; a refusal quotes enough of it to recognise, on one short line.

Text that reaches a terminal or a log line as it is (a study's name, a folder's, an error)
goes through :func:`printable` first, so that what a person typed can neither move the
cursor, clear the screen nor start a line of its own.
"""

from __future__ import annotations

import math
import reprlib
import unicodedata
from typing import Any

# The most characters a quoted value takes; reprlib shortens each part, this the whole.
_WIDTH = 80
_SHORT = reprlib.Repr()
_SHORT.maxstring = _SHORT.maxother = _WIDTH
_SHORT.maxlevel, _SHORT.maxlist, _SHORT.maxdict = 3, 6, 6
# Unicode categories that a terminal acts on or draws as nothing: control, format (bidi
# overrides, zero-width), surrogate, private use, line and paragraph separators.
_HIDDEN = frozenset({"Cc", "Cf", "Cs", "Co", "Zl", "Zp"})


def shown_value(value: Any) -> str:
    """``value`` as a message quotes it: ``'adam'``, ``[16, 64]``, ``'xxxxx...xxxxx'``."""
    if isinstance(value, int) and value.bit_length() > 256:  # repr refuses the longest ones
        return f"a whole number of about {int(value.bit_length() * math.log10(2)):,} digits"
    text = _SHORT.repr(value)
    return text if len(text) <= _WIDTH else text[: _WIDTH - 3] + "..."


def printable(text: str) -> str:
    """``text`` with every character a terminal acts on, or shows as nothing, as an escape.

    Control characters (``ESC`` becomes ``\\x1b``, a newline ``\\n``, a tab ``\\t``, C1 codes
    such as ``\\x9b``), format characters (the bidi override ``\\u202e``, zero-width spaces),
    line and paragraph separators, surrogates and private-use code points are written as
    Python writes them in a ``repr``. Everything else stays as it is: letters of any script
    (``해파리``, ``café``), marks, symbols, spaces (the no-break ones too), and code points
    newer than this Python's Unicode tables (next year's emoji).

    Args:
        text: Text a person gave, or one that quotes it (an error message, a path).

    Returns:
        The same text when it holds none of those characters, else a copy with them escaped:
        it prints on one line and draws on the terminal exactly what it says.
    """
    if text.isprintable():
        return text
    return "".join(repr(ch)[1:-1] if unicodedata.category(ch) in _HIDDEN else ch for ch in text)
