"""The run-config form: one control per hyperparameter, generated from ``core.spec.params``.

The essentials sit at the top; every other key lives in an expander of its group, each with
the help sentence from the parameter table. Widget keys are the config keys, so a run's
settings can be loaded back into the form by writing ``st.session_state``.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from core.spec.catalog import AUGMENTATIONS
from core.spec.config import ConfigError, RunConfig
from core.spec.params import PARAM_BY_KEY, PARAMS, Param
from pages.ui.errors import problem_box, show_field_problem, show_problems

DEFAULTS = RunConfig()

TOP = ("model", "optimizer", "learning_rate", "batch_size", "epochs", "dropout")
TOP_WIDE = ("loss",)
GROUP_TITLES = {
    "training": "Training and validation",
    "optimization": "Optimizer and learning-rate schedule",
    "regularization": "Regularization and early stopping",
    "architecture": "Architecture",
    "data": "Augmentation and preprocessing",
    "transfer": "Transfer learning and image size",
}
# Keys drawn elsewhere: the dataset picker sits above the form, augmentation has its own rows.
SPECIAL = ("dataset", "augment")
AUGMENT_PREFIX = "augment_"


def load_into_form(config: dict[str, Any]) -> None:
    """Put a run's settings into the form's widgets (call from a button callback)."""
    cfg = RunConfig.from_dict(config)
    for param in PARAMS:
        if param.key in SPECIAL:
            continue
        value = getattr(cfg, param.key)
        st.session_state[param.key] = _to_widget(param, value)
    strengths = dict(_split_augment(entry) for entry in cfg.augment)
    for name, (default, _, _) in AUGMENTATIONS.items():
        if default is None:
            st.session_state[AUGMENT_PREFIX + name] = name in strengths
        else:
            st.session_state[AUGMENT_PREFIX + name] = strengths.get(name, 0.0)


def render_config_form(
    problems: dict[str, ConfigError] | None = None,
) -> tuple[dict[str, Any], bool]:
    """Draw the form; return the values it holds (by config key) and whether Train was pressed.

    Args:
        problems: The last submission's problems by field (``pages.ui.errors``): each such
            field is outlined with its message under it, its section open, and all of them
            are listed under the button.
    """
    problems = problems or {}
    values: dict[str, Any] = {}
    with st.form("config", border=True):
        left, right = st.columns(2)
        for i, key in enumerate(TOP):
            values[key] = _widget(PARAM_BY_KEY[key], left if i % 2 == 0 else right, problems)
        for key in TOP_WIDE:
            values[key] = _widget(PARAM_BY_KEY[key], st, problems)
        shown = TOP + TOP_WIDE + SPECIAL
        for group, title in GROUP_TITLES.items():
            params = [p for p in PARAMS if p.group == group and p.key not in shown]
            keys = {p.key for p in params} | ({"augment"} if group == "data" else set())
            with st.expander(title, expanded=bool(keys & problems.keys())):
                if group == "data":
                    values["augment"] = _augment_controls()
                    show_field_problem(problems, "augment", st)
                cols = st.columns(2)
                for i, param in enumerate(params):
                    values[param.key] = _widget(param, cols[i % 2], problems)
        pressed = st.form_submit_button(
            "Train", type="primary", icon=":material/play_arrow:", width="stretch"
        )
        show_problems(problems, marked=[*values, "dataset"])
    return values, pressed


def _widget(param: Param, container: Any, problems: dict[str, ConfigError]) -> Any:
    box = problem_box(problems, param.key, container)
    value = _control(param, box)
    show_field_problem(problems, param.key, box)
    return value


def _control(param: Param, container: Any) -> Any:
    default = _to_widget(param, getattr(DEFAULTS, param.key))
    common = {"key": param.key, "help": param.help}
    if param.kind == "str" and param.choices:
        options = list(param.choices)
        return container.selectbox(
            param.label,
            options,
            index=options.index(default),
            format_func=param.choices.get,
            **common,
        )
    if param.kind == "bool":
        return container.checkbox(param.label, value=default, **common)
    if param.kind == "ints":
        return container.text_input(param.label, value=default, **common)
    if param.kind == "int":
        return container.number_input(param.label, value=default, step=param.step, **common)
    if param.kind == "float":
        return container.number_input(
            param.label, value=default, step=param.step, format="%g", **common
        )
    return container.text_input(param.label, value=str(default), **common)


def _to_widget(param: Param, value: Any) -> Any:
    """A config value in the form its widget holds."""
    if param.kind == "ints":
        return ", ".join(str(v) for v in value)
    return value


def _split_augment(entry: str) -> tuple[str, float]:
    name, _, raw = entry.partition(":")
    return name, float(raw) if raw else 1.0


def _augment_controls() -> list[str]:
    """One control per augmentation: a checkbox for flip, a strength (0 = off) for the rest."""
    st.caption(
        "Random changes applied to training images only, on the fly. Report 002 used "
        "flip, rotation 15° and shifts of 0.1."
    )
    chosen: list[str] = []
    cols = st.columns(3)
    for i, (name, (default, unit, high)) in enumerate(AUGMENTATIONS.items()):
        col = cols[i % 3]
        key = AUGMENT_PREFIX + name
        if default is None:
            if col.checkbox("Flip", value=False, key=key, help="Mirror images left-right."):
                chosen.append(name)
            continue
        strength = col.number_input(
            name.capitalize(),
            min_value=0.0,
            max_value=float(high),
            value=0.0,
            step=default,
            format="%g",
            key=key,
            help=f"Strength in {unit} (0 = off); a usual value is {default:g}.",
        )
        if strength:
            chosen.append(f"{name}:{strength:g}")
    return chosen
