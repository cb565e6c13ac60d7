"""The dataset picker of the Train page, driven through Streamlit's AppTest.

AppTest cannot upload files, so uploads are made with ``core.data.folders`` in the test's cache and
the picker is tested on what it offers, selects, previews and hands to a form afterwards.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

from PIL import Image
from streamlit.testing.v1 import AppTest

from core.data.folders import add_upload, extract_zip
from core.spec.catalog import DATASETS

ROOT = Path(__file__).resolve().parents[2]


def page() -> None:
    """A page that calls the picker outside a form, then reads the choice in a form."""
    import streamlit as st

    from pages.ui.upload import render_dataset_picker

    chosen = render_dataset_picker()
    st.markdown(f"chosen={chosen}")
    with st.form("config"):
        st.number_input("Epochs", value=1, key="epochs")
        submitted = st.form_submit_button("Train")
    if submitted:
        st.markdown(f"submitted={st.session_state['dataset']}")


def zip_of(classes: tuple[str, ...], per_class: int = 3, prefix: str = "") -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for c, name in enumerate(classes):
            for i in range(per_class):
                image = io.BytesIO()
                Image.new("RGB", (24, 16), (60 * c, 10 * i, 0)).save(image, format="PNG")
                archive.writestr(f"{prefix}{name}/{i}.png", image.getvalue())
    return buffer.getvalue()


def run_page(**state: str) -> AppTest:
    at = AppTest.from_function(page, default_timeout=30)
    for key, value in state.items():
        at.session_state[key] = value
    at.run()
    assert not at.exception, at.exception
    return at


def texts(at: AppTest) -> list[str]:
    return [m.value for m in at.markdown]


def test_without_uploads_offers_the_built_in_datasets(cache: Path) -> None:
    at = run_page()
    picker = at.selectbox(key="dataset")
    assert picker.value == "digits" and picker.options[0] == DATASETS["digits"].title
    assert len(picker.options) == len(DATASETS)
    (uploader,) = at.get("file_uploader")
    assert uploader.proto.label == "Your images (.zip of class folders)"
    assert list(uploader.proto.type) == [".zip"]
    assert "chosen=digits" in texts(at)
    assert not at.get("plotly_chart") and not at.error


def test_an_upload_is_offered_previewed_and_reaches_the_form(cache: Path) -> None:
    folder = add_upload(zip_of(("moon", "barrel", "blue"), prefix="jellyfish/"), name="jelly.zip")
    at = run_page()
    picker = at.selectbox(key="dataset")
    assert picker.options[-1].startswith("jelly.zip (uploaded ")
    assert picker.options[-1].endswith(", 9 images)")

    picker.select(str(folder)).run()
    assert not at.exception and not at.error
    assert f"chosen={folder}" in texts(at)
    assert at.session_state["dataset"] == str(folder)
    assert [e.key for e in at.get("plotly_chart")] == ["dataset-class-counts"]
    captions = [c.value for c in at.caption]
    assert captions[0] == "9 images in 3 classes (all 24×16)."
    assert not any("tested on the same" in c for c in captions)
    (note,) = [i.value for i in at.info]
    assert note.startswith("Too small for a separate test set") and "folds" in note
    grid = at.get("image")
    assert len(grid) == 3  # one row per class
    shown = [img.caption for row in grid for img in row.proto.imgs]
    assert shown[:3] == ["barrel · 0.png", "barrel · 1.png", "barrel · 2.png"]
    assert {s.split(" · ")[0] for s in shown} == {"barrel", "blue", "moon"}

    at.button[0].click().run()  # the form's submit button
    assert f"submitted={folder}" in texts(at)


def test_a_broken_upload_shows_the_reason_without_a_traceback(cache: Path) -> None:
    folder = extract_zip(zip_of(("moon",)), name="one-class.zip")  # not checked on purpose
    at = run_page(dataset=str(folder))
    assert at.selectbox(key="dataset").value == str(folder)
    (error,) = at.error
    assert "needs at least two class folders" in error.value and "Traceback" not in error.value
    assert not at.get("plotly_chart")


def test_a_folder_chosen_elsewhere_is_kept_and_a_deleted_one_is_dropped(
    cache: Path, tmp_path: Path
) -> None:
    own = tmp_path / "own"
    for name in ("cats", "dogs"):
        (own / name).mkdir(parents=True)
        for i in range(3):
            Image.new("RGB", (8, 8), (i, 0, 0)).save(own / name / f"{i}.png")
    at = run_page(dataset=str(own))
    assert at.selectbox(key="dataset").value == str(own)
    assert at.selectbox(key="dataset").options[-1] == f"own (folder {own})"

    at = run_page(dataset=str(tmp_path / "deleted"))
    assert at.selectbox(key="dataset").value == "digits" and not at.error
