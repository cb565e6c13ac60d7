"""Filter counts or conv blocks the model would leave unused are refused, naming the field."""

from __future__ import annotations

import pytest

from core.spec.blocks import most_blocks
from core.spec.config import ConfigError, RunConfig
from core.spec.model_cost import cnn_padding
from core.spec.search_space import SearchSettings, SearchSpace, validate_search
from core.spec.sweeps import plan_sweep


def refused(**changes: object) -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        RunConfig(**changes)
    return caught.value


def test_more_filter_counts_than_blocks_are_refused_with_the_labels() -> None:
    error = refused(filters=(16, 64, 128, 256, 512), conv_blocks=2)
    assert error.field == "filters"
    assert error.message == (
        "Filters per block: 5 values for 2 conv blocks; give 2 (one per block), "
        "or set Conv blocks to 5."
    )
    assert refused(filters=(16, 64), conv_blocks=1).message == (
        "Filters per block: 2 values for 1 conv block; give 1 (one per block), "
        "or set Conv blocks to 2."
    )


def test_more_filter_counts_than_any_model_has_blocks_only_asks_for_fewer() -> None:
    assert refused(filters=(8,) * 7, conv_blocks=3).message == (
        "Filters per block: 7 values for 3 conv blocks; give 3 (one per block)."
    )


def test_one_filter_count_may_be_given_as_a_number() -> None:
    assert RunConfig(filters=16, conv_blocks=1).filters == (16,)
    with pytest.raises(ConfigError, match="must be a list"):
        RunConfig(filters=True)


def test_one_count_per_block_or_fewer_is_kept() -> None:
    assert RunConfig(filters=(16, 64, 128, 256, 512), conv_blocks=5, dataset="cifar10").filters
    assert RunConfig(filters=(8,), conv_blocks=3).filters == (8,)  # the last repeats


def test_the_resnet_is_checked_too_and_models_without_conv_blocks_are_not() -> None:
    assert refused(model="resnet", filters=(8, 16, 32), conv_blocks=2).field == "filters"
    assert RunConfig(model="mlp", filters=(8, 16, 32), conv_blocks=1).model == "mlp"
    transfer = RunConfig(model="transfer", img_size=32, filters=(8, 16, 32), conv_blocks=6)
    assert transfer.backbone == "mobilenet_v2"


@pytest.mark.parametrize(
    ("height", "width", "most"), [(8, 8, 3), (9, 9, 4), (28, 28, 5), (32, 32, 5), (8, 64, 6)]
)
def test_an_image_allows_as_many_cnn_blocks_as_halvings_to_one_pixel(
    height: int, width: int, most: int
) -> None:
    assert most_blocks(height, width) == most
    # The CNN pools with "same" padding past the last valid block, halving (rounding up).
    assert cnn_padding((height, width, 1), most + 1) == "same"
    sides = [height, width]
    for _ in range(most - 1):
        sides = [-(-s // 2) for s in sides]
    assert max(sides) > 1  # the last block allowed still has something to pool


def test_cnn_blocks_beyond_what_the_images_allow_are_refused() -> None:
    error = refused(conv_blocks=5, filters=(16,))
    assert error.field == "conv_blocks"
    assert error.message == (
        "Conv blocks: 8×8 images allow at most 3 blocks (each halves the size); got 5."
    )
    assert refused(conv_blocks=6, dataset="cifar10").message == (
        "Conv blocks: 32×32 images allow at most 5 blocks (each halves the size); got 6."
    )


def test_the_image_size_a_run_resizes_to_decides_the_blocks() -> None:
    assert RunConfig(conv_blocks=5, img_size=32).conv_blocks == 5
    assert refused(conv_blocks=3, img_size=4).message == (
        "Conv blocks: 4×4 images allow at most 2 blocks (each halves the size); got 3."
    )


def test_resnet_and_transfer_runs_keep_their_depth_on_small_images() -> None:
    assert RunConfig(model="resnet", conv_blocks=6).conv_blocks == 6  # stages stop striding
    assert RunConfig(model="transfer", img_size=32, conv_blocks=6).conv_blocks == 6


def test_a_sweep_over_values_that_would_be_ignored_is_refused() -> None:
    with pytest.raises(ConfigError, match="value '5': conv blocks: 8×8 images allow at most 3"):
        plan_sweep(RunConfig(filters=(16,)), {"conv_blocks": "1, 3, 5"})
    with pytest.raises(ConfigError, match="filters per block: 3 values for 2 conv blocks"):
        plan_sweep(RunConfig(), {"filters": [[16, 64], [16, 64, 128]]})


@pytest.mark.parametrize(
    ("filters", "dimension", "words"),
    [
        (
            (16,),
            {"key": "conv_blocks", "kind": "int", "low": 1, "high": 5},
            "the value 5 does not make a valid run: Conv blocks: 8×8 images allow at most 3",
        ),
        (
            (16, 64),
            {"key": "conv_blocks", "kind": "choice", "values": [1, 2]},
            "the value 1 does not make a valid run: Filters per block: 2 values for 1 conv block",
        ),
        (
            (16, 64),
            {"key": "filters", "kind": "fixed", "value": [16, 32, 64]},
            "Filters per block: 3 values for 2 conv blocks",
        ),
        (
            (16, 64),
            {"key": "filters", "kind": "choice", "values": ["16,64", "16,32,64"]},
            "the value '16,32,64' does not make a valid run: Filters per block: 3 values",
        ),
    ],
)
def test_a_search_whose_values_would_be_ignored_is_refused(
    filters: tuple[int, ...], dimension: dict[str, object], words: str
) -> None:
    space = SearchSpace.from_list(
        [dimension, {"key": "dropout", "kind": "float", "low": 0.1, "high": 0.5}]
    )
    with pytest.raises(ConfigError, match=words) as caught:
        validate_search(
            RunConfig(filters=filters), space, SearchSettings(tuner="random", max_trials=2)
        )
    assert caught.value.field == dimension["key"]


def test_a_searched_whole_filters_list_reaches_the_trial() -> None:
    space = SearchSpace.from_list([{"key": "filters", "kind": "choice", "values": ["8,32"]}])
    assert space.config_for({"filters": "8,32"}, RunConfig()).filters == (8, 32)
    fixed = SearchSpace.from_list(
        [
            {"key": "filters", "kind": "fixed", "value": [8, 32]},
            {"key": "filters[1]", "kind": "int", "low": 16, "high": 64},
        ]
    )
    assert fixed.config_for({"filters[1]": 48}, RunConfig()).filters == (8, 48)
