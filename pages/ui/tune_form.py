"""The Tune page's search editor: a preset, then per key a mode (fixed, choice, int or float
range), the tuner and its settings, and the estimate shown before launch.

Widgets keep their values in ``st.session_state`` under ``tune-...`` keys, so choosing a preset
writes its space and settings there. What the widgets hold becomes a ``SearchSpace`` and
``SearchSettings`` (``core.spec.search_space``); any problem is a ``ConfigError`` naming the field.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import streamlit as st

from core.spec.config import ConfigError, RunConfig, joined, parse_value
from core.spec.params import PARAM_BY_KEY, PARAMS
from core.spec.search_space import (
    KINDS,
    OBJECTIVES,
    TUNERS,
    UNSEARCHABLE,
    Dimension,
    SearchSettings,
    SearchSpace,
    presets,
    settings_problems,
)
from pages.ui.errors import problem_box

KEYS = "tune-keys"
PRESET = "tune-preset"
DEFAULT_PRESET = "report000"
KIND_LABELS = {
    "fixed": "fixed",
    "choice": "choice list",
    "int": "int range",
    "float": "float range",
}
# The settings widgets: session key -> (SearchSettings field, label).
SPACE_KEY = "tune-space"
FOLDS = "tune-folds"  # the base config's folds: above 1, every trial is cross-validated
NUMBERS = {
    "tune-max_trials": ("max_trials", "Max trials"),
    "tune-executions": ("executions_per_trial", "Executions per trial"),
    "tune-max_epochs": ("max_epochs", "Max epochs"),
    "tune-factor": ("factor", "Factor"),
    "tune-iterations": ("iterations", "Iterations"),
    "tune-min_epochs": ("min_epochs", "Min epochs before stopping"),
    "tune-patience": ("early_stopping_patience", "Early stopping patience"),
    "tune-keep_top": ("keep_top", "Keep the best N models"),
}


@dataclass(frozen=True)
class SearchRequest:
    """What the editor holds: the base config, the space and the tuner settings."""

    base: RunConfig
    space: SearchSpace
    settings: SearchSettings


def key_label(key: str) -> str:
    """A search key in words: ``Learning rate``, ``Filters of conv block 1`` (``filters[0]``)."""
    if key.startswith("filters["):
        return f"Filters of conv block {int(key[8:-1]) + 1}"
    param = PARAM_BY_KEY.get(key)
    return param.label if param else key


def _w(key: str, field: str) -> str:
    return f"tune-{key}-{field}"


def load_preset(name: str | None = None) -> None:
    """Write a preset's space and settings into the editor's widgets."""
    name = name or st.session_state.get(PRESET) or DEFAULT_PRESET
    preset = presets()[name]
    write_space(preset.space)
    _write_settings(preset.settings)
    st.session_state[FOLDS] = int(preset.base.get("folds", 1))


def write_space(space: SearchSpace) -> None:
    """Make the editor hold ``space``, key by key, in place of what it held."""
    for key in st.session_state.get(KEYS, []):
        for field in ("kind", "value", "values", "low", "high", "step", "log"):
            st.session_state.pop(_w(key, field), None)
    st.session_state[KEYS] = [d.key for d in space.dimensions]
    for dim in space.dimensions:
        _write_dimension(dim)


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list | tuple):
        return ", ".join(map(str, value))
    return json.dumps(value) if isinstance(value, bool) else str(value)


def _write_dimension(dim: Dimension) -> None:
    state = st.session_state
    state[_w(dim.key, "kind")] = dim.kind
    state[_w(dim.key, "value")] = _text(dim.value)
    state[_w(dim.key, "values")] = _text(list(dim.values))
    state[_w(dim.key, "low")] = _text(dim.low)
    state[_w(dim.key, "high")] = _text(dim.high)
    state[_w(dim.key, "step")] = _text(dim.step)
    state[_w(dim.key, "log")] = dim.log


def _write_settings(settings: SearchSettings) -> None:
    state = st.session_state
    state["tune-tuner"] = settings.tuner
    state["tune-objective"] = settings.objective
    state["tune-direction"] = settings.direction
    for key, (field, _) in NUMBERS.items():
        state[key] = getattr(settings, field)
    state["tune-budget"] = (settings.time_budget_s or 0) / 60


def _searchable(base: RunConfig) -> list[str]:
    """Keys a person may add: every config key a search may vary, and each conv block's
    filters on its own."""
    keys = [p.key for p in PARAMS if p.key not in UNSEARCHABLE]
    keys += [f"filters[{i}]" for i in range(base.conv_blocks)]
    return [k for k in keys if k not in st.session_state.get(KEYS, [])]


def _default_dimension(key: str, base: RunConfig) -> Dimension:
    """A new key starts searched over its whole choice list or range, else fixed (also a
    number whose range only keeps out absurd values, such as the batch size)."""
    param = PARAM_BY_KEY.get(key.split("[")[0])
    current = base.to_dict().get(key)
    if param is None or key.startswith("filters["):
        index = int(key[8:-1]) if key.startswith("filters[") else 0
        filters = list(base.filters)
        return Dimension(key, "fixed", value=filters[min(index, len(filters) - 1)])
    if param.choices:
        return Dimension(key, "choice", values=tuple(param.choices))
    if param.kind == "bool":
        return Dimension(key, "choice", values=(False, True))
    if param.kind in ("int", "float") and not param.wide:
        low = param.low if not param.low_open else (1e-5 if param.kind == "float" else 1)
        return Dimension(key, param.kind, low=low, high=param.high, log=param.log)
    return Dimension(key, "fixed", value=current)


def _add_key(base: RunConfig) -> None:
    key = st.session_state.get("tune-add")
    st.session_state["tune-add"] = None  # back to the placeholder, for the next key
    if key and key not in st.session_state.get(KEYS, []):
        _write_dimension(_default_dimension(key, base))
        st.session_state[KEYS] = [*st.session_state.get(KEYS, []), key]


def _remove_key(key: str) -> None:
    st.session_state[KEYS] = [k for k in st.session_state.get(KEYS, []) if k != key]


def render_space_editor(base: RunConfig, problems: dict[str, ConfigError] | None = None) -> None:
    """Draw one row per key of the space, and a way to add and remove keys.

    Args:
        base: The preset's base config on the chosen dataset.
        problems: The last launch's problems by field: those rows are outlined.
    """
    problems = problems or {}
    with st.container(key=SPACE_KEY):  # its rows keep one line each (pages.ui.style)
        for key in st.session_state.get(KEYS, []):
            param = PARAM_BY_KEY.get(key.split("[")[0])
            widths = [1.5, 1.3, 4.2, 0.4]
            name, kind, detail, remove = st.columns(widths, vertical_alignment="bottom")
            name.markdown(f"**{key_label(key)}**", help=param.help if param else None)
            mode = kind.selectbox(
                "Mode",
                KINDS,
                format_func=KIND_LABELS.get,
                key=_w(key, "kind"),
                label_visibility="collapsed",
            )
            _detail(key, mode, problem_box(problems, key, detail))
            remove.button(
                "",
                icon=":material/close:",
                key=_w(key, "remove"),
                on_click=_remove_key,
                args=(key,),
                help=f"Remove {key} from the search (it keeps the base value).",
                type="tertiary",
            )
    st.selectbox(
        "Add a setting",
        _searchable(base),
        index=None,
        key="tune-add",
        placeholder="Add a setting to the search…",
        format_func=key_label,
        on_change=_add_key,
        args=(base,),
        label_visibility="collapsed",
    )


def _detail(key: str, mode: str, container: Any) -> None:
    if mode == "fixed":
        container.text_input("Value", key=_w(key, "value"), label_visibility="collapsed")
    elif mode == "choice":
        container.text_input(
            "Values",
            key=_w(key, "values"),
            placeholder="comma-separated, e.g. 16, 32, 64",
            label_visibility="collapsed",
        )
    else:
        low, high, step, log = container.columns([1, 1, 1, 0.7], vertical_alignment="center")
        low.text_input("low", key=_w(key, "low"), placeholder="low")
        high.text_input("high", key=_w(key, "high"), placeholder="high")
        step.text_input("step", key=_w(key, "step"), placeholder="optional")
        log.checkbox("log", key=_w(key, "log"), help="Sample evenly on a log scale.")


def _natural_direction() -> None:
    objective = st.session_state.get("tune-objective")
    st.session_state["tune-direction"] = OBJECTIVES.get(objective, "max")


def render_settings(problems: dict[str, ConfigError] | None = None) -> None:
    """The tuner, the objective and when to stop (a setting the last launch refused outlined)."""
    problems = problems or {}
    top = st.columns(3)
    tuner = top[0].selectbox("Tuner", list(TUNERS), format_func=TUNERS.get, key="tune-tuner")
    top[1].selectbox(
        "Objective",
        list(OBJECTIVES),
        key="tune-objective",
        help="The metric each trial is judged by (its best epoch counts).",
        on_change=_natural_direction,
    )
    top[2].selectbox(
        "Direction",
        ["max", "min"],
        format_func={"max": "higher is better", "min": "lower is better"}.get,
        key="tune-direction",
    )
    shown = ["tune-executions", "tune-patience", "tune-keep_top"]
    if tuner == "hyperband":
        shown = ["tune-max_epochs", "tune-factor", "tune-iterations", *shown]
    elif tuner == "bayes-hyperband":  # each trial once: judged on its own epochs
        shown = ["tune-max_trials", "tune-min_epochs", "tune-factor", *shown[1:]]
    else:
        shown = ["tune-max_trials", *shown]
    cols = st.columns(3)
    for i, key in enumerate(shown):
        box = problem_box(problems, NUMBERS[key][0], cols[i % 3])
        box.number_input(NUMBERS[key][1], min_value=0, step=1, key=key)
    problem_box(problems, "folds", cols[len(shown) % 3]).number_input(
        "Folds (cross-validation)",
        min_value=1,
        max_value=20,
        step=1,
        key=FOLDS,
        help="Above 1, each trial trains once per fold, each holding out another part of the "
        "training images, and is judged by the folds' mean; the table shows their spread.",
    )
    shown = [*shown, FOLDS]
    problem_box(problems, "time_budget_s", cols[len(shown) % 3]).number_input(
        "Time budget (minutes)",
        min_value=0.0,
        step=5.0,
        key="tune-budget",
        help="The search stops between trials once this is spent, keeping the best model; "
        "0 means no limit.",
    )


def _number(key: str, field: str, text: str, whole: bool) -> float | int | None:
    text = text.strip()
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        raise ConfigError(key, f"{field} must be a number (got {text!r}).") from None
    if whole:
        if not value.is_integer():
            raise ConfigError(key, f"{field} must be a whole number (got {text!r}).")
        return int(value)
    return value


def read_space() -> SearchSpace:
    """The space the widgets hold.

    Raises:
        ConfigError: naming each key whose entry cannot be read (the first, with the others
            in ``more``).
    """
    state = st.session_state
    dims, problems = [], []
    for key in state.get(KEYS, []):
        try:
            dims.append(_read_dimension(state, key))
        except ConfigError as exc:
            problems.extend(exc.problems)
    try:
        space = SearchSpace.from_list(dims)  # the rows that were read, checked as a space
    except ConfigError as exc:
        problems.extend(p for p in exc.problems if p.field not in {q.field for q in problems})
    if problems:
        raise joined(problems)
    return space


def _read_dimension(state: Any, key: str) -> dict[str, Any]:
    """One key's row of the editor, as the space reads it."""
    kind = state.get(_w(key, "kind"), "fixed")
    data: dict[str, Any] = {"key": key, "kind": kind}
    if kind == "fixed":
        text = state.get(_w(key, "value"), "")
        if not text.strip():
            raise ConfigError(key, "give the fixed value, or remove the key.")
        data["value"] = parse_value(text)
    elif kind == "choice":
        items = [i for i in state.get(_w(key, "values"), "").split(",") if i.strip()]
        if not items:
            raise ConfigError(key, "list at least one value, separated by commas.")
        data["values"] = [parse_value(i) for i in items]
    else:
        whole = kind == "int"
        for field in ("low", "high"):
            value = _number(key, field, state.get(_w(key, field), ""), whole)
            if value is None:
                raise ConfigError(key, f"give the range's {field} value.")
            data[field] = value
        step = _number(key, "step", state.get(_w(key, "step"), ""), whole)
        if step is not None:
            data["step"] = step
        data["log"] = bool(state.get(_w(key, "log"), False))
    return data


def read_settings() -> SearchSettings:
    """The tuner settings the widgets hold.

    Raises:
        ConfigError: naming the first setting that is not valid.
    """
    state = st.session_state
    data: dict[str, Any] = {
        "tuner": state.get("tune-tuner", "hyperband"),
        "objective": state.get("tune-objective", "val_accuracy"),
        "direction": state.get("tune-direction", ""),
    }
    for key, (field, _) in NUMBERS.items():
        if key in state:
            data[field] = int(state[key])
    minutes = float(state.get("tune-budget") or 0)
    data["time_budget_s"] = minutes * 60 if minutes > 0 else None
    return SearchSettings.from_dict(data)


def read_request(dataset: str) -> SearchRequest:
    """The whole search the editor describes, on ``dataset``: the preset's base config with
    the fixed keys applied, the space and the tuner settings.

    Raises:
        ConfigError: naming each field to change (the first, with the others in ``more``).
    """
    problems: list[ConfigError] = []
    space = settings = None
    try:
        space = read_space()
    except ConfigError as exc:
        problems.extend(exc.problems)
    try:
        settings = read_settings()
    except ConfigError as exc:
        problems.extend(exc.problems)
    if problems and settings is not None:  # the limits a launch checks, named on this press too
        problems.extend(settings_problems(settings))
    if problems:
        raise joined(problems)
    assert space is not None and settings is not None  # each was read, or raised
    # The fixed keys belong to the base config, so the untuned baseline run trains with them.
    base = space.config_for({}, preset_base(dataset))
    folds = int(st.session_state.get(FOLDS) or 1)
    if folds != base.folds:
        base = base.replace(folds=folds)
    return SearchRequest(base, space, settings)


def preset_base(dataset: str) -> RunConfig:
    """The chosen preset's base config on ``dataset``."""
    name = st.session_state.get(PRESET) or DEFAULT_PRESET
    return presets()[name].apply(RunConfig(dataset=dataset))


def render_preset_picker(describe: bool = True) -> str:
    """The preset choice (loading it into the editor when it changes); return its name.

    Args:
        describe: Say under it what the preset searches (left out where a recipe's note
            above says how it was adapted).
    """
    if KEYS not in st.session_state:
        load_preset(DEFAULT_PRESET)
    options = presets()
    name = st.selectbox(
        "Start from",
        list(options),
        format_func=lambda n: options[n].label,
        key=PRESET,
        on_change=load_preset,
        help="A search from one of the reports; change any key below.",
    )
    if describe:
        st.caption(options[name].description)
    return name
