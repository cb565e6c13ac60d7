"""Launch checks that read a folder: its image size decides how many CNN blocks make sense."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.data.checks import check_config, launch_problems
from core.spec.config import ConfigError, RunConfig
from tests.data.test_folders import image_bytes, write_folder


def small_photos(root: Path, side: int) -> Path:
    """Three classes of 20 flat-colour PNGs, ``side`` pixels square."""
    members = {
        f"{name}/{i}.png": image_bytes(40 * c + i, "PNG", (side, side))
        for c, name in enumerate(("barrel", "blue", "moon"))
        for i in range(20)
    }
    return write_folder(root, members)


def test_a_folder_of_16_pixel_images_allows_four_cnn_blocks(tmp_path: Path) -> None:
    folder = str(small_photos(tmp_path / "tiny", 16))
    assert check_config(RunConfig(dataset=folder, batch_size=8, conv_blocks=4)).conv_blocks == 4
    cfg = RunConfig(dataset=folder, batch_size=8, conv_blocks=5, filters=(16,))  # not read yet
    with pytest.raises(ConfigError) as caught:
        check_config(cfg)
    assert caught.value.field == "conv_blocks"
    assert caught.value.message == (
        "Conv blocks: 16×16 images allow at most 4 blocks (each halves the size); got 5."
    )


def test_resizing_a_folders_images_up_allows_more_blocks(tmp_path: Path) -> None:
    folder = str(small_photos(tmp_path / "tiny", 16))
    cfg = RunConfig(dataset=folder, batch_size=8, conv_blocks=5, filters=(16,), img_size=32)
    assert check_config(cfg).img_size == 32


def test_a_transfer_run_on_a_folder_is_not_held_to_the_cnns_blocks(tmp_path: Path) -> None:
    folder = str(small_photos(tmp_path / "photos", 32))
    cfg = RunConfig(dataset=folder, batch_size=8, model="transfer", conv_blocks=6)
    assert check_config(cfg).model == "transfer"


def test_a_launch_names_every_problem_of_its_form_at_once(cache: Path) -> None:
    # Transfer learning on 8-pixel digits, offline: too small, and no ImageNet weights here.
    cfg, problems = launch_problems({"model": "transfer", "dataset": "digits"})
    assert cfg is None
    assert [p.field for p in problems] == ["img_size", "pretrained"]
    cfg, problems = launch_problems({"model": "transfer", "dataset": "digits", "img_size": 32})
    assert [p.field for p in problems] == ["pretrained"]
    cfg, problems = launch_problems(
        {"model": "transfer", "dataset": "digits", "img_size": 32, "pretrained": "none"}
    )
    assert problems == [] and cfg == RunConfig(
        model="transfer", dataset="digits", img_size=32, pretrained="none"
    )


def test_a_folder_launch_names_its_problems_with_the_forms(tmp_path: Path, cache: Path) -> None:
    folder = str(small_photos(tmp_path / "photos", 16))  # 48 training images, 16 px a side
    values = {"dataset": folder, "conv_blocks": 6, "learning_rate": -1, "batch_size": 100}
    _, problems = launch_problems(values)
    assert [p.field for p in problems] == ["learning_rate", "batch_size", "conv_blocks"]
