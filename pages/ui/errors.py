"""A refused input as one line in a person's words: the field's label, then what to change."""

from __future__ import annotations

import streamlit as st

from core.spec.config import ConfigError
from core.spec.params import field_label


def error_text(exc: ConfigError) -> str:
    """``**Learning rate** must be above 0 …``: the label in bold, said once.

    A message that already begins with the label (``learning rate must be …``) has it made
    bold in place; any other follows the label after a dash.
    """
    label = field_label(exc.field)
    message = exc.message
    if message[: len(label)].lower() == label.lower():
        return f"**{label}**{message[len(label) :]}"
    return f"**{label}** — {message}"


def show_error(exc: ConfigError) -> None:
    """Draw the refusal where the form is."""
    st.error(error_text(exc), icon=":material/error:")
