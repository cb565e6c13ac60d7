"""The Compare page's launcher: a base config, one or two settings to vary, values, repeats.

The base is the Train page's settings or a past run's config. The Train form's widgets keep
their values in ``st.session_state`` under the config keys, but Streamlit drops a page's widget
state as soon as another page opens; ``remember_train_settings`` (called by ``page_setup`` on
every page) copies them to a key of their own while the Train page runs. The form holds the
values it last submitted (Train pressed, or a run's settings reused).
Everything is checked by ``core.spec.sweeps.plan_sweep`` before anything is queued.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from core.data.checks import check_config, check_configs, train_size
from core.data.names import run_title
from core.data.weights import check_weights
from core.spec.catalog import AUGMENTATIONS
from core.spec.config import ConfigError, RunConfig
from core.spec.params import PARAMS
from core.spec.sweeps import (
    MAX_REPEATS,
    default_values,
    format_value,
    param_label,
    plan_sweep,
    sweepable_keys,
)
from core.store import Status, Store
from pages.ui.config_form import AUGMENT_PREFIX
from pages.ui.errors import (
    error_text,
    keep_problems,
    kept_problems,
    problem_box,
    show_field_problem,
    show_problems,
)

SNAPSHOT_KEY = "compare-train-settings"
NO_SECOND = ""
FORM = "compare"  # its refused launch's problems are kept under this name (pages.ui.errors)
TRAIN_SOURCE, RUN_SOURCE = "Train page settings", "A past run"


def remember_train_settings() -> None:
    """Copy the Train form's values out of its widgets' state (a no-op on other pages)."""
    state = st.session_state
    found = {p.key: state[p.key] for p in PARAMS if p.key != "augment" and p.key in state}
    if not found:
        return
    augment = []
    for name, (default, _, _) in AUGMENTATIONS.items():
        value = state.get(AUGMENT_PREFIX + name)
        if default is None and value:
            augment.append(name)
        elif default is not None and value:
            augment.append(f"{name}:{value:g}")
    state[SNAPSHOT_KEY] = {**found, "augment": augment}


def _train_settings() -> tuple[RunConfig | None, str]:
    """The Train page's settings as a config (None with the reason if they do not validate)."""
    saved = st.session_state.get(SNAPSHOT_KEY)
    if not saved:
        return RunConfig(), "the Train page's defaults (open Train to change them)"
    try:
        return RunConfig.from_dict(dict(saved)), "the Train page's settings"
    except ConfigError as exc:
        return None, f"{error_text(exc)} Fix it on the Train page."


def _past_run(s: Store) -> tuple[RunConfig | None, str]:
    done = s.trials(statuses=(Status.COMPLETED,), limit=100)
    if not done:
        st.caption("No finished run yet: train one first, or start from the Train page settings.")
        return None, ""
    by_id = {t.id: t for t in done}
    chosen = st.selectbox(
        "Run",
        list(by_id),
        format_func=lambda i: (
            f"Run {i} · {run_title(by_id[i].config)} · "
            f"{by_id[i].test_accuracy or 0:.1%} test accuracy"
        ),
        key="compare-base-run",
    )
    try:
        return by_id[chosen].run_config, f"run {chosen}"
    except ConfigError as exc:
        return None, error_text(exc)


def _describe(cfg: RunConfig) -> str:
    return (
        f"{run_title(cfg.to_dict())} · {cfg.optimizer} · learning rate {cfg.learning_rate:g} · "
        f"batch size {cfg.batch_size} · {cfg.epochs} epoch{'s' if cfg.epochs != 1 else ''} · "
        f"seed {cfg.seed}"
    )


def render_sweep_form(s: Store) -> dict[str, Any] | None:
    """Draw the launcher; return the sweep to queue when Launch is pressed and it validates.

    Returns:
        ``{"plan": Plan, "spec": SweepSpec, "redraw": bool}`` (``redraw``: the problems of an
        earlier press are drawn above, so draw the page again once it is queued), or None
        when nothing was pressed. A refused press draws the form again with its problems.
    """
    source = st.segmented_control(
        "Start from", [TRAIN_SOURCE, RUN_SOURCE], default=TRAIN_SOURCE, key="compare-source"
    )
    problems = kept_problems(FORM)
    base, origin = _past_run(s) if source == RUN_SOURCE else _train_settings()
    if base is None:
        if origin:
            st.error(origin, icon=":material/error:")
        return None
    epochs = st.number_input(
        "Epochs per run", min_value=1, value=base.epochs, step=1, key="compare-epochs"
    )
    keys = sweepable_keys()
    first = st.selectbox(
        "Vary",
        keys,
        index=keys.index("batch_size"),
        format_func=param_label,
        key="compare-key",
        help="The setting whose values are compared; everything else stays as in the base.",
    )
    base_for_values = _with_epochs(base, epochs)
    st.caption(f"Base: {_describe(base_for_values)} — from {origin}.")
    values = {first: _values_input(first, base_for_values, problems)}
    second = st.selectbox(
        "Also vary, as a grid (optional)",
        [NO_SECOND, *(k for k in keys if k != first)],
        format_func=lambda k: "—" if k == NO_SECOND else param_label(k),
        key="compare-key2",
        help="Hyperparameters interact: a second setting trains every combination and "
        "shows the result as a heatmap.",
    )
    if second != NO_SECOND:
        values[second] = _values_input(second, base_for_values, problems)
    repeats_box = problem_box(problems, "repeats", st.container())
    repeats = repeats_box.number_input(
        "Repeats",
        min_value=1,
        max_value=MAX_REPEATS,
        value=1,
        step=1,
        key="compare-repeats",
        help="Runs per value, each with its own seed (the base seed, +1, +2, ...). One run "
        "per value cannot tell a real difference from noise; 3 or more tell large ones, 5 or "
        "more smaller ones.",
    )
    show_field_problem(problems, "repeats", repeats_box)
    scale_lr = st.checkbox(
        "Scale learning rate with batch size",
        key="compare-scale-lr",
        disabled="batch_size" not in values,
        help="The linear scaling rule: learning rate × batch size / base batch size "
        f"({base.learning_rate:g} at batch size {base.batch_size}).",
    )
    pressed = st.button(
        "Launch sweep", type="primary", icon=":material/play_arrow:", width="stretch"
    )
    show_problems(problems, marked=[*values, "repeats"])
    if not pressed:
        return None
    sweep = _plan(base_for_values, values, int(repeats), bool(scale_lr and "batch_size" in values))
    return {**sweep, "redraw": bool(problems)}


def _with_epochs(base: RunConfig, epochs: Any) -> RunConfig:
    try:
        return base.replace(epochs=int(epochs))
    except (ConfigError, TypeError, ValueError):
        return base


def _values_input(key: str, base: RunConfig, problems: dict[str, ConfigError]) -> str:
    # The box's key carries the setting, so picking another setting brings its own defaults.
    try:
        default = default_values(key, base, train_size(base))
    except ConfigError:
        default = format_value(getattr(base, key))
    box = problem_box(problems, key, st.container())
    typed = box.text_input(
        f"{param_label(key)} values",
        value=default,
        key=f"compare-values-{key}",
        help="Comma-separated (use semicolons between lists, e.g. 16,64; 32,128).",
    )
    show_field_problem(problems, key, box)
    return typed


def _plan(base: RunConfig, values: dict[str, str], repeats: int, scale_lr: bool) -> Any:
    try:
        base = check_config(base)
        plan, spec = plan_sweep(
            base, values, repeats, scale_lr, base_title=run_title(base.to_dict())
        )
        for cfg in check_configs(plan.configs):
            check_weights(cfg)
    except ConfigError as exc:
        keep_problems(FORM, exc.problems)  # drawn again, each at its field
        st.rerun()
    keep_problems(FORM, [])
    return {"plan": plan, "spec": spec}
