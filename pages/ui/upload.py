"""The Train page's dataset picker: a built-in dataset, an earlier upload, or a new zip of photos.

Call ``render_dataset_picker()`` outside the Train form: a file uploader cannot live in a form
that has a submit button. The choice is kept in ``st.session_state["dataset"]`` (the select
box's key) and returned, so the form reads it when it is submitted. Unpacking, checking and the
preview's figures come from ``core.data.folders`` and ``core.views.folder_preview``.
"""

from __future__ import annotations

import io
from pathlib import Path

import streamlit as st

from core.data.availability import missing_files
from core.data.folder_scan import FolderInfo
from core.data.folders import add_upload, scan_folder, uploaded_folders
from core.spec.catalog import DATASETS
from core.spec.config import ConfigError
from core.views import folder_preview as folder_views

KEY = "dataset"
UPLOAD_KEY = "dataset_upload"
UPLOAD_LABEL = "Your images (.zip of class folders)"
SAMPLES_PER_CLASS = 4
MAX_CLASSES_SHOWN = 12
THUMB_SIDE = 160
# file_id of each zip this session received -> the problem with it, or None once unpacked.
_SEEN_KEY = "_dataset_uploads_seen"


def render_dataset_picker() -> str:
    """Draw the dataset choice, the zip uploader and a preview of the chosen folder.

    A zip that unpacks and checks out is selected once, when it arrives; a refused one gets
    an error message and nothing changes. Uploads stay in the cache and are offered again.

    Returns:
        The chosen dataset: a built-in key or the absolute path of an uploaded folder (also
        in ``st.session_state["dataset"]``).
    """
    select_slot = st.container()
    # The upload is handled before the select box exists: only then may it set the choice.
    _take_upload()
    options = [*DATASETS, *(str(p) for p in uploaded_folders())]
    current = st.session_state.get(KEY)
    if current is not None and current not in options:
        if Path(current).is_dir():
            options.append(current)  # a folder chosen elsewhere, such as a past run's
        else:
            del st.session_state[KEY]  # deleted since it was chosen
    with select_slot:
        choice = st.selectbox(
            "Dataset",
            options,
            format_func=_label,
            key=KEY,
            help="A built-in dataset, or your own photos: upload a zip with one folder per "
            "class below.",
        )
    if choice not in DATASETS:
        _preview(choice)
    return choice


def _take_upload() -> None:
    uploaded = st.file_uploader(
        UPLOAD_LABEL,
        type=["zip"],
        key=UPLOAD_KEY,
        help="One folder per class, e.g. moon/1.jpg and barrel/2.png (JPEG, PNG, GIF or BMP); "
        "a single folder around them is fine. Other files are skipped.",
    )
    if uploaded is None:
        return
    seen: dict[str, str | None] = st.session_state.setdefault(_SEEN_KEY, {})
    if uploaded.file_id not in seen:
        try:
            with st.spinner("Unpacking and checking your images…"):
                folder = add_upload(uploaded.getvalue(), name=uploaded.name)
        except ConfigError as exc:
            seen[uploaded.file_id] = exc.message
        except OSError as exc:
            seen[uploaded.file_id] = f"it could not be unpacked ({exc.strerror or exc})."
        else:
            seen[uploaded.file_id] = None
            st.session_state[KEY] = str(folder)
    problem = seen[uploaded.file_id]
    if problem:
        # Messages about the zip's contents name it already; those about the file do not.
        named = problem if problem.startswith(uploaded.name) else f"**{uploaded.name}** — {problem}"
        st.error(named, icon=":material/error:")


def _label(name: str) -> str:
    label = folder_views.dataset_label(name)
    if name in DATASETS and missing_files(name):
        return f"{label} — not downloaded"
    return label


def _preview(folder: str) -> None:
    try:
        info = scan_folder(folder)
    except ConfigError as exc:
        st.error(exc.message, icon=":material/error:")
        return
    with st.expander(f"Your images: {info.title}", expanded=True):
        st.caption(folder_views.folder_summary(info))
        if folder_views.has_test_set(info):
            st.caption(folder_views.test_set_note(info))
        else:
            st.info(folder_views.test_set_note(info), icon=":material/info:")
        # Two tabs, so the preview stays short and the form's Train button within reach.
        counts, pictures = st.tabs(["Images per class", "Sample images"])
        counts.plotly_chart(
            folder_views.class_counts_figure(info),
            key="dataset-class-counts",
            config={"displaylogo": False},
        )
        with pictures:
            _samples(info)


def _samples(info: FolderInfo) -> None:
    """A few images of each class (the first classes, when there are many)."""
    samples = folder_views.sample_images(info, SAMPLES_PER_CLASS)
    for name, paths in samples[:MAX_CLASSES_SHOWN]:
        shown = [(p, _thumbnail(str(p), p.stat().st_mtime_ns)) for p in paths]
        shown = [(p, thumb) for p, thumb in shown if thumb]  # changed since the scan
        if shown:
            st.image(
                [thumb for _, thumb in shown],
                caption=[f"{name} · {p.name}" for p, _ in shown],
                width=96,
            )
    if len(samples) > MAX_CLASSES_SHOWN:
        st.caption(f"…and {len(samples) - MAX_CLASSES_SHOWN} more classes.")


@st.cache_data(max_entries=1000, show_spinner=False)
def _thumbnail(path: str, mtime_ns: int) -> bytes:
    """A small JPEG of one image, or nothing for one that no longer opens or is too large.

    ``mtime_ns`` only makes a changed file miss the cache.
    """
    del mtime_ns
    buffer = io.BytesIO()
    try:
        folder_views.thumbnail(Path(path), THUMB_SIDE).save(buffer, format="JPEG", quality=85)
    except (OSError, ValueError):
        return b""
    return buffer.getvalue()
