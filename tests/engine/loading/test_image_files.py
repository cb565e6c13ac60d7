"""A folder read from its disk cache: written once, reused, broken files skipped and counted.

Small folders of flat PNGs written with Pillow in ``tmp_path``: red is 80 × the class, green
5 × the image's number, so a pixel says which file it came from.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from PIL import Image

from core.cli.train import result_line
from core.data.folder_scan import scan_folder
from core.engine.loading.datasets import load_splits
from core.engine.loading.folds import load_fold
from core.engine.loading.image_files import CACHE_NOTE, ImageFiles
from core.spec.config import RunConfig
from core.store import Status, Store

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

CLASSES = ("barrel", "blue", "moon")


def write_folder(root: Path, per_class: int = 12, side: int = 8) -> Path:
    for label, name in enumerate(CLASSES):
        (root / name).mkdir(parents=True)
        for i in range(per_class):
            colour = (80 * label, 5 * i, 0)
            Image.new("RGB", (side, side), colour).save(root / name / f"{i:02d}.png")
    return root


def ids(x: ImageFiles, y: np.ndarray) -> list[tuple[int, int]]:
    """(label, image number) of every image of a split, read from the cache."""
    pixels = x.load()
    assert np.array_equal(pixels[:, 0, 0, 0], y * 80)  # each label belongs to its image
    greens = pixels[:, 0, 0, 1]
    return [(int(label), int(green) // 5) for label, green in zip(y, greens, strict=True)]


def cache_files(root: Path) -> list[Path]:
    return sorted((root / "datasets" / "folders").glob(f"*/{CACHE_NOTE}"))


def test_the_cache_is_written_once_under_the_cache_folder_and_read_back(tmp_path: Path) -> None:
    folder = write_folder(tmp_path / "jelly")
    root = tmp_path / "cache"
    first = load_splits(str(folder), 0.25, 0, root, img_size=8)
    assert isinstance(first.x_train, ImageFiles) and first.x_train.shape == (27, 8, 8, 3)
    (note,) = cache_files(root)
    index = note.parent / "images.index"
    written = (index.stat().st_ino, index.stat().st_mtime_ns)

    again = load_splits(str(folder), 0.25, 0, root, img_size=8)
    assert (index.stat().st_ino, index.stat().st_mtime_ns) == written  # not written again
    np.testing.assert_array_equal(again.x_train.rows, first.x_train.rows)
    # Another image size is another cache; the first one stays.
    load_splits(str(folder), 0.25, 0, root, img_size=4)
    assert len(cache_files(root)) == 2

    # The images come from the cache: the photos can go.
    for path in folder.rglob("*.png"):
        path.unlink()
    seen = ids(first.x_train, first.y_train) + ids(first.x_val, first.y_val)
    assert sorted(seen) == [(label, i) for label in range(3) for i in range(12)]


def test_a_damaged_file_is_skipped_and_counted_and_a_run_trains_on_the_rest(
    store: Store, cache: Path, tmp_path: Path
) -> None:
    from core.engine.training import TrialMonitor, run_trial

    folder = write_folder(tmp_path / "jelly")
    scan_folder(folder)  # checked while it was whole ...
    (folder / "moon" / "03.png").write_bytes(b"\x89PNG\r\n\x1a\n and then nothing")  # ... then not
    splits = load_splits(str(folder), 0.25, 0, cache, img_size=8)
    assert list(splits.skipped) == ["moon/03.png"]
    assert (len(splits.y_train), len(splits.y_val), len(splits.y_test)) == (26, 9, 0)
    assert (2, 3) not in ids(splits.x_train, splits.y_train) + ids(splits.x_val, splits.y_val)

    cfg = RunConfig(
        dataset=str(folder), validation_split=0.25, model="mlp", epochs=1, batch_size=8, img_size=8
    )
    _, (tid,) = store.create_study("folder", "single", [cfg], reserve_for=1)
    with TrialMonitor(store, tid, interval=0.05) as monitor:
        status = run_trial(store, store.trial(tid), monitor, cache)
    trial = store.trial(tid)
    assert status == Status.COMPLETED, trial.error
    assert trial.results["sizes"] == {"train": 26, "validation": 9, "test": 0}
    assert list(trial.results["unreadable"]) == ["moon/03.png"]
    assert "1 image that cannot be used left out (moon/03.png)" in result_line(trial)
    assert len(store.epochs(tid)) == 1 and trial.results["classes"]["images"] == 9


def test_the_split_is_stratified_and_the_same_for_the_same_seed(tmp_path: Path) -> None:
    folder = write_folder(tmp_path / "jelly", per_class=50, side=4)
    root = tmp_path / "cache"
    splits = load_splits(str(folder), 0.2, 0, root, img_size=4)
    np.testing.assert_array_equal(np.bincount(splits.y_test), [10, 10, 10])
    np.testing.assert_array_equal(np.bincount(splits.y_val), [8, 8, 8])
    parts = [splits.x_train.rows, splits.x_val.rows, splits.x_test.rows]
    assert sorted(np.concatenate(parts).tolist()) == list(range(150))  # each image once

    again = load_splits(str(folder), 0.2, 0, root, img_size=4)
    other = load_splits(str(folder), 0.2, 1, root, img_size=4)
    np.testing.assert_array_equal(again.x_val.rows, splits.x_val.rows)
    np.testing.assert_array_equal(other.x_test.rows, splits.x_test.rows)  # test: every seed
    assert not np.array_equal(other.x_val.rows, splits.x_val.rows)


def test_folds_come_from_paths_and_stay_put_when_the_validation_share_changes(
    tmp_path: Path,
) -> None:
    folder = write_folder(tmp_path / "jelly", per_class=10, side=4)
    root = tmp_path / "cache"
    cfg = RunConfig(dataset=str(folder), folds=3, img_size=4)
    folds = [load_fold(cfg, k, root) for k in range(3)]
    held = np.concatenate([f.x_val.rows for f in folds])
    assert sorted(held.tolist()) == list(range(30))  # disjoint, covering every image
    for fold in folds:
        assert np.abs(np.bincount(fold.y_val, minlength=3) - 10 / 3).max() < 1  # stratified
        ids(fold.x_val, fold.y_val)
    again = load_fold(cfg, 1, root)
    shifted = load_fold(cfg.replace(validation_split=0.4), 1, root)
    np.testing.assert_array_equal(again.x_val.rows, folds[1].x_val.rows)
    np.testing.assert_array_equal(shifted.x_val.rows, folds[1].x_val.rows)


def test_take_reads_only_the_images_asked_for_in_their_order(tmp_path: Path) -> None:
    folder = write_folder(tmp_path / "jelly", per_class=6, side=4)
    splits = load_splits(str(folder), 0.25, 0, tmp_path / "cache", img_size=4)
    whole = splits.x_train.load()
    picks = np.array([5, 0, 9])
    np.testing.assert_array_equal(splits.x_train.take(picks, axis=0), whole[picks])
    np.testing.assert_array_equal(splits.x_train.subset(picks).load(), whole[picks])
