"""What a finished run hands over: its downloads, and its promotion to a final model.

Drawn under a completed run's results (``components.render_trial``): the model, weights,
config, a standalone ``train.py``, TensorBoard logs and everything as one zip; then a button
that promotes the run (``core.handover.promote``) and, beside the original, each promotion with its
own model to download. Zips are built only when their button is clicked.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from core.analysis.trial_scores import accuracy_on_test
from core.handover import bundle, promote
from core.store import Status, Store, Trial
from core.worker.launch import ensure_worker
from pages.ui.nav import RUNS_PAGE
from pages.ui.session import store, store_trouble

_FILES = (
    ("model", "Model (.keras)", ".keras", "application/octet-stream"),
    ("weights", "Weights (.h5)", ".weights.h5", "application/x-hdf5"),
    ("config", "Config (.json)", ".config.json", "application/json"),
)


def render_handover(s: Store, trial: Trial) -> None:
    """Downloads of a completed run, and its promotion."""
    if promote.is_promotion(s, trial) and trial.parent_id is not None:
        st.caption(
            f"Promoted from run {trial.parent_id}: its settings trained on the training and "
            f"validation images together for {trial.config.get('epochs')} epochs, then tested."
        )
    _downloads(s, trial)
    if not promote.is_promotion(s, trial):
        _promotion(s, trial)


def _download(
    col: DeltaGenerator,
    label: str,
    name: str,
    data: Callable[[], bytes | str],
    mime: str,
    key: str,
    help_text: str | None = None,
) -> None:
    col.download_button(
        label,
        data=data,
        file_name=name,
        mime=mime,
        icon=":material/download:",
        on_click="ignore",
        key=key,
        help=help_text,
        width="stretch",
    )


def _downloads(s: Store, trial: Trial) -> None:
    stem = bundle.export_name(trial)
    artifacts = trial.results.get("artifacts", {})
    st.markdown("**Downloads**")
    if not artifacts:  # e.g. a search trial that the search did not keep
        st.caption("No model was saved for this run; train.py rebuilds and trains it.")
    cols = st.columns(3) if artifacts else []
    for col, (key, label, suffix, mime) in zip(cols, _FILES, strict=False):
        path = Path(artifacts.get(key, ""))
        if path.is_file():
            _download(
                col, label, stem + suffix, path.read_bytes, mime, f"download-{key}-{trial.id}"
            )
        else:
            col.caption(f"The {key} file is no longer on disk.")
    script, logs, everything = st.columns(3)
    script_name, text = "", ""
    try:
        script_name, text = bundle.script_file(s, trial.id)
    # E.g. its image folder is gone: the config no longer loads, or the run recorded too
    # little of the folder to write the script without it.
    except (ValueError, OSError) as exc:
        script.caption(f"No train.py: {exc}")
    else:
        _download(
            script,
            "train.py",
            script_name,
            lambda: text,
            "text/x-python",
            f"download-script-{trial.id}",
            "Trains this run again with plain Keras, without this app, and prints its test "
            "accuracy and loss.",
        )
    log_folder = Path(artifacts.get("logs") or bundle.run_folder(trial) / "logs")
    if log_folder.is_dir():
        _download(
            logs,
            "TensorBoard logs",
            f"{stem}{bundle.LOGS_SUFFIX}.zip",
            lambda: (bundle.logs_zip(trial) or ("", b""))[1],
            "application/zip",
            f"download-logs-{trial.id}",
            "Unzip, then run: tensorboard --logdir <the folder>",
        )
    else:
        logs.caption("No TensorBoard logs were kept for this run.")
    if text and Path(artifacts.get("model", "")).is_file():
        _download(
            everything,
            "Everything (.zip)",
            f"{stem}-bundle.zip",
            lambda: bundle.bundle_zip(s, trial.id)[1],
            "application/zip",
            f"download-bundle-{trial.id}",
            "Model, weights, config, train.py and logs in one zip.",
        )


def _promotion(s: Store, trial: Trial) -> None:
    """The promote button, and each promotion of this run beside it."""
    promotions = promote.promotions_of(s, trial.id)
    with st.container(border=True):
        text, action = st.columns([3, 1.2], vertical_alignment="center")
        try:
            epochs = promote.promoted_config(trial).epochs
        except (promote.PromoteError, ValueError) as exc:
            text.caption(f"Promote: {exc}")
            return
        text.markdown(
            f"**Promote** · train these settings again on the training and validation images "
            f"together for {epochs} epoch{'s' if epochs != 1 else ''} (this run's best), test "
            "it, and download that final model."
        )
        if action.button(
            "Promote",
            icon=":material/workspace_premium:",
            key=f"promote-{trial.id}",
            width="stretch",
            disabled=any(not t.status.finished for t in promotions),
            help="Queued like any run; it appears in the runs table as kind 'promote'.",
        ):
            with store_trouble():
                _, new_id = promote.queue_promotion(s, trial.id)
            ensure_worker()
            st.toast(f"Promotion queued as run {new_id}.")
            st.rerun()
        if all(t.status.finished for t in promotions):
            for promoted in promotions:
                _promoted_row(promoted)
        else:
            _live_promotions(trial.id)


@st.fragment(run_every=1.0)
def _live_promotions(trial_id: int) -> None:
    """The promotions of a run while one is queued or training, redrawn every second."""
    promotions = promote.promotions_of(store(), trial_id)
    if all(t.status.finished for t in promotions):
        st.rerun()  # draw the finished rows once, without polling
    for promoted in promotions:
        _promoted_row(promoted)


def _promoted_row(promoted: Trial) -> None:
    label, link, download = st.columns([2.2, 1, 1.2], vertical_alignment="center")
    if promoted.status == Status.COMPLETED and (test := accuracy_on_test(promoted)) is not None:
        label.markdown(f"Run {promoted.id} (promoted) · test accuracy **{test.text()}**")
    else:
        label.markdown(f"Run {promoted.id} (promoted) · {promoted.status}")
    link.page_link(
        RUNS_PAGE,
        label=f"Open run {promoted.id}",
        icon=":material/open_in_new:",
        query_params={"trial": str(promoted.id)},
    )
    model = Path(promoted.results.get("artifacts", {}).get("model", ""))
    if promoted.status == Status.COMPLETED and model.is_file():
        _download(
            download,
            "Download final model (.keras)",
            f"{bundle.export_name(promoted)}-promoted.keras",
            model.read_bytes,
            "application/octet-stream",
            f"download-promoted-{promoted.id}",
        )
