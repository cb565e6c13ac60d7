"""Fork from epoch k: continue a run from one of its checkpoints with some settings changed.

Offered on a run's page, also while it trains. The form shows the settings people change
most (learning rate, schedule, optimizer, batch size, dropout, augmentation, epochs) at the
run's values, with the labels, ranges and steps of ``core.spec.params`` that every run is
checked against, and takes any other key that may change as ``key=value`` text. Nothing is
queued until ``core.worker.forks.plan_fork`` accepts it; a refusal names the field and what to do.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from core.analysis.paired import paired_difference
from core.spec.config import ConfigError, parse_assignment
from core.spec.formats import SETTING_FORMAT
from core.spec.params import PARAM_BY_KEY
from core.store import Store, Trial
from core.worker import forks as fork
from pages.ui.errors import keep_problems, kept_problems, problem_box, show_problems
from pages.ui.nav import TRAIN_PAGE
from pages.ui.session import store_trouble

# The fork form's title: what a fork does, in the words of the person who wants one.
FORK_LABEL = "Continue from an epoch with new settings"
CHECKPOINT_HELP = (
    "A run keeps the checkpoints of its newest epochs and of its best one, within "
    "HPE_CHECKPOINT_CAP copies and HPE_CHECKPOINT_BYTES bytes; a fork starts from one of them."
)


def render_fork(s: Store, trial: Trial) -> None:
    """Draw links to a trial's forks, and the fork form if the trial has checkpoints."""
    _children(s, trial)
    points = fork.fork_points(trial)
    if not points:
        return
    st.caption(fork.checkpoint_line(trial), help=CHECKPOINT_HELP)
    problems = kept_problems(_form(trial))
    shown = {"epoch", "augment", *_FIELDS}
    # A refused change typed under "Other changes" is marked there.
    marks = {("extra" if k not in shown else k): p for k, p in problems.items()}
    with (
        # Keyed, so it stays open while a running trial's view refreshes around it.
        st.expander(FORK_LABEL, icon=":material/fork_right:", key=f"fork-{trial.id}"),
        st.form(key=f"fork-form-{trial.id}", border=False),
    ):
        # Every finished epoch, so one pruned while the form is open stays picked and is
        # refused by name, rather than another one forked in its place.
        options = sorted({e.epoch + 1 for e in s.epochs(trial.id)} | set(points))
        epoch = problem_box(marks, "epoch", st.container()).selectbox(
            "Continue after epoch",
            options,
            index=options.index(points[-1]),
            format_func=lambda e: str(e) if e in points else f"{e} (no checkpoint kept)",
            key=f"fork-epoch-{trial.id}",
            help="Keeps this run's epochs up to here and trains the rest with the changes.",
        )
        left, right = st.columns(2)
        values: dict[str, Any] = {
            "learning_rate": _number(
                _in(marks, "learning_rate", left), trial, "learning_rate", "lr"
            ),
            "lr_schedule": _choice(
                _in(marks, "lr_schedule", right), trial, "lr_schedule", "schedule"
            ),
            "optimizer": _choice(_in(marks, "optimizer", left), trial, "optimizer", "optimizer"),
            "batch_size": _number(_in(marks, "batch_size", right), trial, "batch_size", "batch"),
            "dropout": _number(_in(marks, "dropout", left), trial, "dropout", "dropout"),
            "epochs": _number(
                _in(marks, "epochs", right),
                trial,
                "epochs",
                "epochs",
                label="Epochs in all",
                help="Counted from the run's start, as on the chart.",
            ),
        }
        augment = problem_box(marks, "augment", st.container()).text_input(
            "Augmentation",
            value=", ".join(trial.config.get("augment") or []),
            key=f"fork-augment-{trial.id}",
            help="Comma-separated, e.g. flip, rotation:15, zoom:0.1 (empty for none).",
        )
        extra = problem_box(marks, "extra", st.container()).text_input(
            "Other changes",
            placeholder="l2=1e-4, momentum=0.9",
            key=f"fork-extra-{trial.id}",
            help="key=value pairs, comma-separated: "
            + ", ".join(k for k in fork.FORKABLE_KEYS if k not in values and k != "augment"),
        )
        submitted = st.form_submit_button(
            "Fork", type="primary", icon=":material/fork_right:", key=f"fork-go-{trial.id}"
        )
        if not submitted:
            show_problems(problems, marked=())  # each in full; the fields are outlined
    if submitted:
        values["augment"] = [a.strip() for a in augment.split(",") if a.strip()]
        _submit(s, trial, int(epoch), values, extra)


# The settings the form has a field of its own for (the rest go under "Other changes").
_FIELDS = ("learning_rate", "lr_schedule", "optimizer", "batch_size", "dropout", "epochs")


def _form(trial: Trial) -> str:
    """The name a trial's fork form keeps its refused submission's problems under."""
    return f"fork-form-{trial.id}"


def _in(marks: dict[str, ConfigError], key: str, container: Any) -> Any:
    """Where a field is drawn: outlined when the last submission's problems name it."""
    return problem_box(marks, key, container.container())


def _number(container: Any, trial: Trial, key: str, name: str, **overrides: str) -> float | int:
    """A number input for ``key`` at the trial's value, with the label, help, range and step of
    its ``PARAM_BY_KEY`` entry, the ones every run is checked against.

    A bound a run excludes (a learning rate must be above 0) cannot be told to the widget: the
    fork's check refuses it with its message.
    """
    param = PARAM_BY_KEY[key]
    kind = int if param.kind == "int" else float
    return container.number_input(
        overrides.get("label", param.label),
        value=kind(trial.config[key]),
        min_value=None if param.low is None else kind(param.low),
        max_value=None if param.high is None else kind(param.high),
        step=kind(param.step),
        format="%d" if kind is int else SETTING_FORMAT,
        key=f"fork-{name}-{trial.id}",
        help=overrides.get("help", param.help),
    )


def _choice(container: Any, trial: Trial, key: str, name: str) -> str:
    """A select box for ``key`` at the trial's value, with its ``PARAM_BY_KEY`` choices."""
    param = PARAM_BY_KEY[key]
    options = list(param.choices or {})
    return container.selectbox(
        param.label,
        options,
        index=options.index(trial.config[key]),
        format_func=(param.choices or {}).get,
        key=f"fork-{name}-{trial.id}",
        help=param.help,
    )


def render_origin(s: Store, trial: Trial) -> bool:
    """For a fork: one line naming its parent, the epoch it continued after, and the changes.

    Returns:
        Whether its chart should span the whole run (a toggle beside that line; by default
        the chart shows the epochs around and after the fork point). False for other runs.
    """
    if not fork.is_fork(trial):
        return False
    parent = fork.parent_of(s, trial)
    if parent is None:
        st.caption(f"Forked after epoch {trial.fork_epoch + 1} of a run since deleted.")
    else:
        changed = fork.describe_changes(fork.changes_between(parent.config, trial.config))
        st.caption(f"Forked from run {parent.id} after epoch {trial.fork_epoch + 1}: {changed}.")
    return st.toggle(
        "Whole run",
        key=f"whole-run-{trial.id}",
        help="The chart opens on the epochs after the fork point; this shows every epoch.",
    )


def render_versus_parent(s: Store, trial: Trial) -> None:
    """For a tested fork: its test accuracy against its parent's, image by image, with the
    difference and its 95% interval (``core.analysis.paired``)."""
    parent = fork.parent_of(s, trial)
    if parent is None or parent.test_accuracy is None or trial.test_accuracy is None:
        return
    found = paired_difference(trial, parent)
    if found is None:
        st.caption(
            f"Run {parent.id} (its parent) scored {parent.test_accuracy:.1%} on the test set; "
            "one of the two was tested before runs kept their image-by-image results, so "
            "the difference has no interval."
        )
        return
    text = found.sentence("this fork", f"run {parent.id}")
    (st.success if found.real and found.diff > 0 else st.info)(text, icon=":material/fork_right:")


def _children(s: Store, trial: Trial) -> None:
    """One link per fork of this trial, newest first, saying where it left off and what changed."""
    for child in fork.children(s, trial.id):
        changed = fork.describe_changes(fork.changes_between(trial.config, child.config))
        st.page_link(
            TRAIN_PAGE,
            label=f"Run {child.id} forked after epoch {child.fork_epoch + 1}: {changed}",
            icon=":material/fork_right:",
            query_params={"trial": str(child.id)},
        )


def _submit(s: Store, trial: Trial, epoch: int, values: dict[str, Any], extra: str) -> None:
    """Check and queue the fork, then open it on the Train page; or say what to fix."""
    changes = {k: v for k, v in values.items() if v != trial.config.get(k)}
    if values["augment"] == list(trial.config.get("augment") or []):
        changes.pop("augment", None)
    unread: list[ConfigError] = []  # "Other changes" that are not key=value
    for item in (p for p in extra.split(",") if p.strip()):
        try:
            key, value = parse_assignment(item.strip())
        except ConfigError as exc:
            unread.append(exc)
            continue
        changes[key] = value
    try:
        plan = fork.plan_fork(s, trial.id, epoch, changes)
    except ConfigError as exc:
        unread.extend(exc.problems)
    if unread:
        keep_problems(_form(trial), unread)  # drawn again, each field outlined
        st.rerun()
    keep_problems(_form(trial), [])
    with store_trouble():
        _, new_id = fork.queue_fork(s, plan)
    st.switch_page(TRAIN_PAGE, query_params={"trial": str(new_id)})
