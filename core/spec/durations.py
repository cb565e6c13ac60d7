"""Seconds as people read them, in every place the app states a time.

One formatter for the progress line's time left, a run's time per epoch, a search's budget
and time used, and the estimate of how long a search will take: ``0.4 s``, ``42 s``,
``3 min 5 s``, ``30 min``, ``1 h 02 min``, ``2 h``.
"""

from __future__ import annotations


def format_duration(seconds: float) -> str:
    """A duration in words, to a tenth of a second under 10 s and to the second above.

    Under a minute it is seconds (``0.4 s``, ``42 s``); under an hour minutes and seconds
    (``3 min 5 s``); above, hours and minutes (``1 h 02 min``). A zero last part is left out
    (``30 min``, ``2 h``), and a negative duration reads as ``0.0 s``.
    """
    if seconds < 9.95:  # 9.95 and above would print as "10.0 s"
        return f"{max(0.0, seconds):.1f} s"
    whole = round(seconds)
    if whole < 60:
        return f"{whole} s"
    if whole < 3600:
        minutes, rest = divmod(whole, 60)
        return f"{minutes} min {rest} s" if rest else f"{minutes} min"
    hours, rest = divmod(whole, 3600)
    return f"{hours} h {rest // 60:02d} min" if rest // 60 else f"{hours} h"
