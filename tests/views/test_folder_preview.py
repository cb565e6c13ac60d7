"""The preview of a folder of class folders: figure, table, split sizes, text, samples, labels."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest
from PIL import Image

from core.data.checks import train_size
from core.data.folder_scan import FolderInfo
from core.data.folders import extract_zip, folder_info, scan_folder
from core.spec.catalog import DATASETS
from core.spec.config import RunConfig
from core.views import folder_preview as folder_views


def write_classes(root: Path, counts: dict[str, int], size: tuple[int, int] = (16, 16)) -> Path:
    for c, (name, n) in enumerate(counts.items()):
        folder = root / name
        folder.mkdir(parents=True)
        for i in range(n):
            Image.new("RGB", size, (20 * c, i, 0)).save(folder / f"{i:03d}.png")
    return root


@pytest.fixture
def jelly(tmp_path: Path) -> Path:
    return write_classes(tmp_path / "jelly", {"barrel": 5, "moon": 12, "blue": 3})


def test_class_counts_figure_has_a_bar_per_class_in_label_order(jelly: Path) -> None:
    fig = folder_views.class_counts_figure(scan_folder(jelly))
    (bar,) = fig.data
    assert list(bar.x) == ["barrel", "blue", "moon"]
    assert list(bar.y) == [5, 3, 12]
    assert fig.layout.title.text == "20 images in 3 classes"


def test_class_table_lists_labels_counts_and_shares(jelly: Path) -> None:
    table = folder_views.class_table(scan_folder(jelly))
    assert list(table.columns) == ["label", "class", "images", "share"]
    assert table["class"].tolist() == ["barrel", "blue", "moon"]
    assert table["label"].tolist() == [0, 1, 2]
    assert table["images"].tolist() == [5, 3, 12]
    assert table["share"].tolist() == [0.25, 0.15, 0.6]


@pytest.mark.parametrize(
    ("counts", "test"), [({"a": 40, "b": 35, "c": 25}, 0), ({"a": 60, "b": 55, "c": 50}, 33)]
)
@pytest.mark.parametrize("split", [0.04 / 0.96, 0.2, 0.5])
def test_split_sizes_agree_with_the_run_config(
    tmp_path: Path, split: float, counts: dict[str, int], test: int
) -> None:
    folder = write_classes(tmp_path / "d", counts)
    sizes = folder_views.split_sizes(scan_folder(folder), split)
    cfg = RunConfig(dataset=str(folder), validation_split=split, batch_size=8)
    assert sizes["train"] == train_size(cfg)
    assert sizes["test"] == folder_info(folder).n_test == test
    assert sum(sizes.values()) == sum(counts.values())


def fake_folder(counts: tuple[int, ...]) -> FolderInfo:
    """A scan result with these many images per class (nothing on disk)."""
    images = tuple((Path("p"),) * n for n in counts)
    names = tuple("abcdefghij"[: len(counts)])
    return FolderInfo(Path("jellyfish"), "jellyfish", names, images)


def test_split_sizes_of_the_jellyfish_report_set_a_fifth_aside_for_test() -> None:
    # 979 photos in 6 classes with a validation split of 4 / 96, as in the report.
    info = fake_folder((163, 163, 163, 163, 163, 164))
    assert info.n_images == 979
    sizes = folder_views.split_sizes(info, 0.04 / 0.96)
    assert sizes == {"train": 750, "validation": 33, "test": 196}


def test_the_preview_says_what_every_run_is_tested_on() -> None:
    info = fake_folder((163, 163, 163, 163, 163, 164))
    assert folder_views.has_test_set(info)
    assert folder_views.test_set_note(info) == (
        "Every run is tested on the same 196 images (20%, stratified, at least 10 per class); "
        "the validation split is held out of the other 783."
    )


def test_the_preview_of_3_classes_of_30_says_it_is_too_small_and_suggests_folds() -> None:
    info = fake_folder((30, 30, 30))
    assert not folder_views.has_test_set(info)
    assert folder_views.split_sizes(info, 0.2) == {"train": 72, "validation": 18, "test": 0}
    note = folder_views.test_set_note(info)
    assert note.startswith("Too small for a separate test set: a test set of 20% needs at ")
    assert "at least 10 images of every class, so 50 per class, and each class has 30." in note
    assert "Train with folds (cross-validation" in note
    uneven = folder_views.test_set_note(fake_folder((80, 49, 200)))
    assert "so 50 per class, and the smallest, 'b', has 49." in uneven


def test_size_summary() -> None:
    assert folder_views.size_summary({}) == "no images"
    assert folder_views.size_summary({(640, 480): 10}) == "all 640×480"
    summary = folder_views.size_summary({(640, 480): 3, (100, 80): 1, (4032, 3024): 2})
    assert summary == "3 sizes, from 100×80 to 4032×3024"


def test_folder_summary_names_skipped_files(jelly: Path) -> None:
    assert folder_views.folder_summary(scan_folder(jelly)) == (
        "20 images in 3 classes (all 16×16)."
    )
    (jelly / "moon" / "notes.txt").write_text("x")
    (jelly / "README.md").write_text("x")
    text = folder_views.folder_summary(scan_folder(jelly))
    assert text.startswith("20 images in 3 classes (all 16×16); 2 files that are not images")
    assert "README.md" in text and "moon/notes.txt" in text


def test_sample_images_are_spread_over_each_class_and_repeatable(jelly: Path) -> None:
    info = scan_folder(jelly)
    samples = folder_views.sample_images(info, per_class=4)
    assert [name for name, _ in samples] == ["barrel", "blue", "moon"]
    by_class = {name: [p.name for p in paths] for name, paths in samples}
    assert by_class["moon"] == ["000.png", "003.png", "006.png", "009.png"]
    assert by_class["blue"] == ["000.png", "001.png", "002.png"]  # fewer than asked
    assert folder_views.sample_images(info, per_class=4) == samples


def test_folder_summary_says_what_was_skipped_and_converted(jelly: Path) -> None:
    import os

    from tests.data.odd_images import one_bit_bmp

    (jelly / "moon" / "scan.bmp").write_bytes(one_bit_bmp())
    os.mkfifo(jelly / "blue" / "pipe.png")
    text = folder_views.folder_summary(scan_folder(jelly))
    assert text == (
        "21 images in 3 classes (2 sizes, from 16×8 to 16×16); "
        "1 file that is not a regular file skipped unopened (blue/pipe.png: a named pipe); "
        "1 image TensorFlow cannot read as it is converted for training "
        "(moon/scan.bmp: a 1-bit BMP)."
    )


@pytest.mark.parametrize(
    ("mode", "fmt"), [("L", "PNG"), ("P", "GIF"), ("RGB", "JPEG"), ("1", "BMP")]
)
def test_thumbnail_fits_the_side_and_is_rgb(tmp_path: Path, mode: str, fmt: str) -> None:
    path = tmp_path / f"photo.{fmt.lower()}"
    Image.new(mode, (640, 320)).save(path, format=fmt)
    thumb = folder_views.thumbnail(path, side=100)
    assert thumb.mode == "RGB" and max(thumb.size) == 100
    assert thumb.size[0] == 2 * thumb.size[1]  # aspect kept


def test_dataset_label_for_builtin_upload_and_folder(cache: Path, jelly: Path) -> None:
    assert folder_views.dataset_label("digits") == DATASETS["digits"].title
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for path in sorted(jelly.rglob("*.png")):
            archive.write(path, path.relative_to(jelly).as_posix())
    folder = extract_zip(buffer.getvalue(), cache, name="jellyfish.zip")
    label = folder_views.dataset_label(str(folder))
    assert label.startswith("jellyfish.zip (uploaded ") and label.endswith(", 20 images)")
    assert folder_views.dataset_label(str(jelly)) == f"jelly (folder {jelly})"


def test_thumbnail_refuses_an_image_above_the_pixel_cap_before_decoding(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from core.data import image_checks

    path = tmp_path / "big.png"
    Image.new("L", (200, 100)).save(path)
    monkeypatch.setattr(image_checks, "MAX_PIXELS", 10_000)
    with pytest.raises(ValueError, match=r"big\.png: it is 200×100 pixels"):
        folder_views.thumbnail(path)
