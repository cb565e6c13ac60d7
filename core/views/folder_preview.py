"""Figures, tables and text that show a folder of class folders before it is trained on.

Plain functions of a ``FolderInfo`` (see ``core.data.folder_scan``); nothing here imports Streamlit
or TensorFlow, so the Train page only lays out what these return.
"""

from __future__ import annotations

import math
import warnings
from pathlib import Path

import pandas as pd
import plotly.graph_objects as go
from PIL import Image

from core.data.folder_scan import (
    FOLDER_TEST_SHARE,
    MIN_CLASS_FOR_TEST,
    MIN_TEST_PER_CLASS,
    FolderInfo,
    folder_test_size,
    read_manifest,
)
from core.data.image_checks import pixel_problem
from core.spec.catalog import DATASETS

BAR_COLOUR = "#636EFA"
# How many files a summary names of each kind it reports.
_NAMED = 3


def class_counts_figure(info: FolderInfo) -> go.Figure:
    """A bar per class: how many images it has, classes in label order."""
    counts = list(info.counts)
    fig = go.Figure(
        go.Bar(
            x=list(info.class_names),
            y=counts,
            text=counts,
            textposition="auto",
            marker_color=BAR_COLOUR,
            hovertemplate="%{x}: %{y} images<extra></extra>",
        )
    )
    fig.update_layout(
        title=f"{info.n_images:,} images in {len(counts)} classes",
        xaxis_title="class",
        yaxis_title="images",
        height=300,
        margin={"l": 40, "r": 10, "t": 40, "b": 40},
        showlegend=False,
    )
    return fig


def class_table(info: FolderInfo) -> pd.DataFrame:
    """One row per class: its label, name, image count and share of all images."""
    total = info.n_images or 1
    return pd.DataFrame(
        {
            "label": range(len(info.class_names)),
            "class": list(info.class_names),
            "images": list(info.counts),
            "share": [round(n / total, 4) for n in info.counts],
        }
    )


def split_sizes(info: FolderInfo, validation_split: float) -> dict[str, int]:
    """Images a run trains, validates and tests on, as ``RunConfig`` and the loader count them.

    The test set is ``folder_test_size`` images (0 for a folder too small for one, see
    :func:`test_set_note`); ``ceil(rest * validation_split)`` of the rest validate (one fold's
    share with k folds works the same way).
    """
    test = folder_test_size(info.counts)
    rest = info.n_images - test
    validation = math.ceil(rest * validation_split)
    return {"train": rest - validation, "validation": validation, "test": test}


def has_test_set(info: FolderInfo) -> bool:
    """Whether runs on the folder are tested on images set aside for it."""
    return folder_test_size(info.counts) > 0


def test_set_note(info: FolderInfo) -> str:
    """What runs on the folder are tested on, in a sentence or two for the preview.

    A folder whose classes all have ``MIN_CLASS_FOR_TEST`` images: the same test images for
    every run, how many, and what share. A smaller one: why there is no test set and what
    estimates accuracy instead (cross-validation).
    """
    share = f"{FOLDER_TEST_SHARE:.0%}"
    test = folder_test_size(info.counts)
    if test:
        return (
            f"Every run is tested on the same {test:,} images ({share}, stratified, at least "
            f"{MIN_TEST_PER_CLASS} per class); the validation split is held out of the other "
            f"{info.n_images - test:,}."
        )
    smallest = min(info.counts)
    name = info.class_names[info.counts.index(smallest)]
    has = (
        f"each class has {smallest}"
        if len(set(info.counts)) == 1
        else f"the smallest, {name!r}, has {smallest}"
    )
    return (
        f"Too small for a separate test set: a test set of {share} needs at least "
        f"{MIN_TEST_PER_CLASS} images of every class, so {MIN_CLASS_FOR_TEST} per class, and "
        f"{has}. Every image trains or validates instead. Train with folds "
        "(cross-validation, e.g. 5) for an estimate that scores every image once, on a model "
        "that did not train on it; a single run shows only its validation accuracy."
    )


def size_summary(sizes: dict[tuple[int, int], int]) -> str:
    """``"all 640×480"``, or the smallest and largest of several sizes (by pixel count)."""
    if not sizes:
        return "no images"
    if len(sizes) == 1:
        ((width, height),) = sizes
        return f"all {width}×{height}"
    ordered = sorted(sizes, key=lambda wh: (wh[0] * wh[1], wh))
    (w0, h0), (w1, h1) = ordered[0], ordered[-1]
    return f"{len(sizes)} sizes, from {w0}×{h0} to {w1}×{h1}"


def folder_summary(info: FolderInfo) -> str:
    """One line about the folder: images, classes, sizes, and what was skipped or converted."""
    text = (
        f"{info.n_images:,} images in {len(info.class_names)} classes ({size_summary(info.sizes)})"
    )
    if info.skipped:
        shown = ", ".join(info.skipped_examples)
        more = ", …" if info.skipped > len(info.skipped_examples) else ""
        noun = "file" if info.skipped == 1 else "files"
        text += f"; {info.skipped} {noun} that are not images skipped ({shown}{more})"
    if info.unreadable:
        text += "; " + _named(
            info.unreadable,
            "image that cannot be used left out",
            "images that cannot be used left out",
        )
    if info.special:
        text += "; " + _named(
            info.special,
            "file that is not a regular file skipped unopened",
            "files that are not regular files skipped unopened",
        )
    if info.converted:
        text += "; " + _named(
            {info.shown(path): why for path, why in info.converted.items()},
            "image TensorFlow cannot read as it is converted for training",
            "images TensorFlow cannot read as they are converted for training",
        )
    return text + "."


def _named(reasons: dict[str, str], one: str, many: str) -> str:
    """``"2 files that … (a.png: why; b.png: why)"``, naming at most ``_NAMED`` of them."""
    items = list(reasons.items())
    shown = "; ".join(f"{name}: {why}" for name, why in items[:_NAMED])
    more = "; …" if len(items) > _NAMED else ""
    return f"{len(items)} {one if len(items) == 1 else many} ({shown}{more})"


def sample_images(info: FolderInfo, per_class: int = 4) -> list[tuple[str, list[Path]]]:
    """A few images of each class, spread evenly over its (sorted) files.

    Returns:
        ``(class name, image paths)`` per class, in label order; the same every time.
    """
    samples = []
    for name, paths in zip(info.class_names, info.images, strict=True):
        n = min(per_class, len(paths))
        picks = [paths[i * len(paths) // n] for i in range(n)] if n else []
        samples.append((name, picks))
    return samples


def thumbnail(path: Path, side: int = 160) -> Image.Image:
    """An RGB copy of an image that fits in ``side`` × ``side``.

    The size is read from the header first: an image above the scan's pixel cap is refused
    before anything is decoded. JPEGs are decoded at a reduced scale, so large photos cost
    little. The EXIF orientation is not applied: Keras does not apply it either, and the
    preview shows what training sees.

    Raises:
        ValueError: for an image above ``core.data.image_checks.MAX_PIXELS``.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            image = Image.open(path)
        except Image.DecompressionBombError as exc:  # above twice Pillow's own threshold
            raise ValueError(f"{path.name}: {exc}") from None
        with image:
            if problem := pixel_problem(image.size):
                raise ValueError(f"{path.name}: {problem}")
            image.draft("RGB", (side, side))
            # One byte a pixel for black-and-white and grey images until they are small.
            small = image.convert("L" if image.mode in ("1", "L") else "RGB")
    small.thumbnail((side, side))
    return small.convert("RGB")


def dataset_label(name: str) -> str:
    """What to call a run's dataset: a built-in title, an upload's zip name, a folder's name.

    Never opens the images, so it is cheap for every option of a list.
    """
    if name in DATASETS:
        return DATASETS[name].title
    folder = Path(name)
    note = read_manifest(folder)
    if note:
        images = note.get("images")
        count = f", {images:,} images" if isinstance(images, int) else ""
        when = note.get("unpacked_at", "")
        return f"{note.get('name') or folder.name} (uploaded{' ' + when if when else ''}{count})"
    return f"{folder.name} (folder {folder})"
