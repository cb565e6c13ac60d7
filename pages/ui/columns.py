"""Table columns in the app's one number vocabulary (``core.spec.formats``).

A share (an accuracy, a precision) is a bar from 0 to 100% with its value to one decimal, so
every table reads the same and a row still waiting for its score stays empty rather than
saying "None"; the frame holds the share in percentage points (``percent_points``).
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from core.spec.formats import LOSS_FORMAT, PERCENT_FORMAT, SETTING_FORMAT


def share(label: str, **options: Any) -> Any:
    """A column of shares in percentage points: a bar with ``37.5%`` beside it."""
    return st.column_config.ProgressColumn(
        label, format=PERCENT_FORMAT, min_value=0, max_value=100, **options
    )


def points(label: str, **options: Any) -> Any:
    """A column of percentage points that are no share (a spread, a gap): ``-2.5%``."""
    return st.column_config.NumberColumn(label, format=PERCENT_FORMAT, **options)


def loss(label: str, **options: Any) -> Any:
    """A column of losses, to four decimals."""
    return st.column_config.NumberColumn(label, format=LOSS_FORMAT, **options)


def setting(label: str, **options: Any) -> Any:
    """A column of a float setting (the learning rate) to three significant digits."""
    return st.column_config.NumberColumn(label, format=SETTING_FORMAT, **options)
