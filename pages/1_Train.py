"""Train: pick a dataset, a model and the hyperparameters, train, and watch it live."""

from __future__ import annotations

import streamlit as st

from core.catalog import DATASETS, LOSSES, MODELS, OPTIMIZERS
from core.config import ConfigError, RunConfig
from core.datasets import check_available, missing_files
from core.store import Status
from pages.ui.components import keep_queue_moving, page_setup, render_trial, store

DEFAULTS = RunConfig()

page_setup("Train")
st.caption(
    "Train one model in the background worker. Closing the tab or refreshing does not stop it."
)


def _dataset_label(name: str) -> str:
    title = DATASETS[name].title
    return f"{title} — not downloaded" if missing_files(name) else title


def _form() -> dict:
    d = DEFAULTS
    v: dict = {}
    with st.form("config", border=True):
        v["dataset"] = st.selectbox(
            "Dataset", list(DATASETS), format_func=_dataset_label, key="dataset"
        )
        a, b = st.columns(2)
        v["model"] = a.selectbox(
            "Model",
            list(MODELS),
            format_func=MODELS.get,
            key="model",
            help="CNN: report 000's network (two Conv-AvgPool-BatchNorm blocks, Dense 256, "
            "Dropout). MLP: two Dense layers with Dropout.",
        )
        v["dropout"] = b.slider(
            "Dropout",
            0.0,
            0.9,
            d.dropout,
            0.05,
            key="dropout",
            help="Share of units dropped while training; fights overfitting.",
        )
        v["optimizer"] = a.selectbox(
            "Optimizer", list(OPTIMIZERS), format_func=OPTIMIZERS.get, key="optimizer"
        )
        v["learning_rate"] = b.number_input(
            "Learning rate",
            value=d.learning_rate,
            step=1e-4,
            format="%g",
            key="learning_rate",
            help="Step size of each update: too high diverges, too low barely moves.",
        )
        v["loss"] = st.selectbox("Loss", list(LOSSES), format_func=LOSSES.get, key="loss")
        a, b = st.columns(2)
        v["batch_size"] = a.number_input(
            "Batch size",
            value=d.batch_size,
            step=1,
            key="batch_size",
            help="Images per update: larger is faster per epoch but gives fewer updates.",
        )
        v["epochs"] = b.number_input(
            "Epochs", value=d.epochs, step=1, key="epochs", help="Passes over the training images."
        )
        v["validation_split"] = a.number_input(
            "Validation split",
            value=d.validation_split,
            step=0.05,
            key="validation_split",
            help="Share of the training images held out, stratified, to validate each epoch.",
        )
        v["seed"] = b.number_input(
            "Seed",
            value=d.seed,
            min_value=0,
            step=1,
            key="seed",
            help="Fixes the split, the initial weights and the shuffling.",
        )
        v["early_stopping_patience"] = st.number_input(
            "Early stopping patience (0 = off)",
            value=d.early_stopping_patience,
            min_value=0,
            step=1,
            key="early_stopping_patience",
            help="Stop after this many epochs without a better validation loss and keep the "
            "best weights.",
        )
        v["submitted"] = st.form_submit_button(
            "Train", type="primary", icon=":material/play_arrow:", width="stretch"
        )
    return v


def _launch(values: dict) -> int | None:
    """Validate and queue; return the new trial id, or None after showing what to fix."""
    try:
        cfg = RunConfig.from_dict(values)
        check_available(cfg.dataset)
    except ConfigError as exc:
        st.error(f"**{exc.field}** — {exc.message}", icon=":material/error:")
        return None
    s = store()
    _, (trial_id,) = s.create_study(f"{cfg.model} on {cfg.dataset}", "single", [cfg])
    keep_queue_moving(s)
    return trial_id


def _shown_trial() -> int | None:
    """The run this page shows: the one in the URL, else the running one, else the latest."""
    s = store()
    wanted = st.query_params.get("trial")
    if wanted and wanted.isdigit():
        try:
            return s.trial(int(wanted)).id
        except KeyError:
            st.warning(f"There is no run {wanted}; showing the latest one.")
    active = s.trials(statuses=(Status.RUNNING, Status.QUEUED), limit=1)
    latest = active or s.trials(limit=1)
    return latest[0].id if latest else None


form_col, run_col = st.columns([1.15, 2], gap="large")
with form_col:
    values = _form()
    submitted = values.pop("submitted")
    if submitted:
        new_trial = _launch(values)
        if new_trial is not None:
            st.query_params["trial"] = str(new_trial)

with run_col:
    trial_id = _shown_trial()
    if trial_id is None:
        st.info(
            "No runs yet. The defaults train a small CNN on the embedded digits dataset "
            "in well under a minute: press **Train**.",
            icon=":material/lightbulb:",
        )
    else:
        render_trial(trial_id)
