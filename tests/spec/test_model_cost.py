"""Weights and multiply-adds counted from a config, against answers worked out by hand."""

from __future__ import annotations

import pytest

from core.spec.config import RunConfig
from core.spec.model_cost import BACKBONE_COSTS, model_cost


def test_report_000_cnn_has_its_602698_weights_and_the_hand_counted_multiply_adds() -> None:
    cost = model_cost(RunConfig(), (32, 32, 3), 10)
    assert cost.params == 602_698  # the report's own model.summary()
    # conv1 30·30·16·(3·3·3) + conv2 13·13·64·(3·3·16) + dense 2304·256 + output 256·10
    assert cost.macs == 388_800 + 1_557_504 + 589_824 + 2_560
    assert cost.flops == 2 * cost.macs
    assert cost.train_macs == 3 * cost.macs  # everything trains: forward plus twice that back
    assert cost.layers == 12  # input, rescaling, 2 × (conv, pool, bn), flatten, dense, dropout, out


def test_digits_cnn_pads_same_and_an_mlp_without_dense_layers_is_one_softmax() -> None:
    cost = model_cost(RunConfig(), (8, 8, 1), 10)
    # Same padding: conv1 8·8·16·9, pool to 4×4, conv2 4·4·64·144, pool to 2×2, dense 256·256.
    assert cost.macs == 9_216 + 147_456 + 65_536 + 2_560
    linear = model_cost(RunConfig(model="mlp", dense_layers=0), (8, 8, 1), 10)
    assert (linear.params, linear.macs) == (64 * 10 + 10, 64 * 10)


def test_resizing_counts_the_resized_images() -> None:
    small = model_cost(RunConfig(model="mlp"), (8, 8, 1), 10)
    resized = model_cost(RunConfig(model="mlp", img_size=16), (8, 8, 1), 10)
    first_layer = 256  # dense units
    assert resized.macs - small.macs == (16 * 16 - 8 * 8) * first_layer
    assert resized.layers == small.layers + 1


@pytest.mark.parametrize("backbone", sorted(BACKBONE_COSTS))
def test_a_backbone_costs_its_published_figure_scaled_by_the_image_area(backbone: str) -> None:
    table = BACKBONE_COSTS[backbone]
    cfg = RunConfig(model="transfer", backbone=backbone, img_size=table.side)
    cost = model_cost(cfg, (table.side, table.side, 3), 10)
    head = table.features * 256 + 256 * 10
    assert cost.macs == pytest.approx(table.macs + head)
    assert cost.params == table.params + head + 256 + 10
    half = model_cost(cfg.replace(img_size=table.side // 2), (table.side, table.side, 3), 10)
    assert half.macs - head == pytest.approx(table.macs * (table.side // 2) ** 2 / table.side**2)


def test_a_frozen_backbone_only_runs_forward_and_fine_tuning_trains_its_top() -> None:
    cfg = RunConfig(model="transfer", backbone="resnet50", img_size=224)
    frozen = model_cost(cfg, (224, 224, 3), 10)
    head = 2048 * 256 + 256 * 10
    assert frozen.train_macs == pytest.approx(frozen.macs + 2 * head)
    assert frozen.trained_params == head + 256 + 10
    tuned = model_cost(cfg.replace(fine_tune_layers=1000), (224, 224, 3), 10)
    assert tuned.train_macs == pytest.approx(3 * tuned.macs)
    assert tuned.trained_params == tuned.params
