"""Refused inputs in a person's words: the field's label, then what to change.

A form that was refused keeps its problems (``keep_problems``) and draws itself again: each
field with a problem is drawn in a ``problem_box``, which outlines it, with what is wrong
said under it; the section holding it is opened; and beside the button that sent it, the
problems are summed up.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

import streamlit as st

from core.spec.config import ConfigError
from core.spec.params import field_label

_PROBLEMS_KEY = "{form}-problems"
# Containers around a field with a problem are keyed with this prefix; the page style
# (``pages.ui.style``) outlines the field inside.
PROBLEM_PREFIX = "field-problem-"


def error_text(exc: ConfigError) -> str:
    """``**Learning rate** must be above 0 …``: the label in bold, said once.

    A message that already begins with the label (``learning rate must be …``) has it made
    bold in place; any other follows the label after a dash.
    """
    label, rest = _after_label(exc)
    if rest is not None:
        return f"**{label}**{rest}"
    return f"**{label}** — {exc.message}"


def field_text(exc: ConfigError) -> str:
    """The message shown under the field itself, where its label is already in sight."""
    _, rest = _after_label(exc)
    message = exc.message if rest is None else rest.lstrip(" :")
    return message[:1].upper() + message[1:]


def _after_label(exc: ConfigError) -> tuple[str, str | None]:
    """The field's label, and the message after it when the message begins with it."""
    label = field_label(exc.field)
    if exc.message[: len(label)].lower() == label.lower():
        return label, exc.message[len(label) :]
    return label, None


def show_error(exc: ConfigError) -> None:
    """Draw a refusal where the form is: every problem it carries, each naming its field."""
    _show(exc.problems)


def _show(problems: Sequence[ConfigError]) -> None:
    if len(problems) == 1:
        st.error(error_text(problems[0]), icon=":material/error:")
        return
    lines = "\n".join(f"- {error_text(p)}" for p in problems)
    st.error(f"{len(problems)} settings to change:\n\n{lines}", icon=":material/error:")


def keep_problems(form: str, problems: Sequence[ConfigError]) -> None:
    """Remember a submission's problems for the form's next drawing (none: forget them)."""
    key = _PROBLEMS_KEY.format(form=form)
    if problems:
        st.session_state[key] = list(problems)
    else:
        st.session_state.pop(key, None)


def kept_problems(form: str) -> dict[str, ConfigError]:
    """The problems kept for a form, by field, in the order they were found."""
    problems = st.session_state.get(_PROBLEMS_KEY.format(form=form), [])
    return {p.field: p for p in problems}


def problem_box(problems: dict[str, ConfigError], key: str, container: Any) -> Any:
    """Where to draw a field: a box that outlines it when it has a problem, else as given."""
    if key in problems:
        return container.container(key=PROBLEM_PREFIX + key)
    return container


def show_field_problem(problems: dict[str, ConfigError], key: str, container: Any) -> None:
    """Say under a field what is wrong with its value, when something is."""
    if key in problems:
        container.markdown(f":red[{field_text(problems[key])}]")


def show_problems(problems: dict[str, ConfigError], marked: Collection[str]) -> None:
    """Sum up the last submission's problems beside its button.

    Args:
        problems: By field, as ``kept_problems`` returns them.
        marked: The fields whose message is shown at the field itself: they are named here;
            any other problem is said in full.
    """
    if not problems:
        return
    at_fields = [field_label(key) for key in problems if key in marked]
    elsewhere = [p for key, p in problems.items() if key not in marked]
    lines = [f"- {error_text(p)}" for p in elsewhere]
    if at_fields:
        count = len(problems)
        head = f"**{count} settings to change**" if count > 1 else "**A setting to change**"
        first = f"{head}, marked above: {', '.join(at_fields)}."
        st.error("\n\n".join([first, "\n".join(lines)]).strip(), icon=":material/error:")
    else:
        _show(elsewhere)
