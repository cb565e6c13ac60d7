"""Tests for core.engine.models: each architecture key shapes its model; every model trains."""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
import pytest
from sklearn.datasets import load_digits

from core.engine.models import (
    _freeze,
    build_model,
    cnn_padding,
    summary_rows,
)
from core.engine.optim import compile_model, prepare_labels
from core.spec.config import RunConfig
from core.spec.model_cost import model_cost

SHAPES = [(8, 8, 1), (28, 28, 1), (32, 32, 3)]
# Transfer backbones need 32 pixels a side: the config asks for it, whatever the input.
TRANSFER = {"model": "transfer", "pretrained": "none", "img_size": 32}

# Report 000's model summary: (layer type, output shape, params).
REPORT_000 = [
    ("Conv2D", (None, 30, 30, 16), 448),
    ("AveragePooling2D", (None, 15, 15, 16), 0),
    ("BatchNormalization", (None, 15, 15, 16), 64),
    ("Conv2D", (None, 13, 13, 64), 9_280),
    ("AveragePooling2D", (None, 6, 6, 64), 0),
    ("BatchNormalization", (None, 6, 6, 64), 256),
    ("Flatten", (None, 2304), 0),
    ("Dense", (None, 256), 590_080),
    ("Dropout", (None, 256), 0),
    ("Dense", (None, 10), 2_570),
]


@pytest.fixture(autouse=True)
def _seeded() -> None:
    keras.utils.set_random_seed(0)


def _pixels(n: int, shape: tuple[int, int, int], seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (n, *shape), dtype=np.uint8)


def _digits() -> tuple[np.ndarray, np.ndarray]:
    data = load_digits()
    x = np.round(data.images * 255 / 16).astype(np.uint8)[..., np.newaxis]
    return x, data.target


def _of(model: keras.Model, kind: type) -> list[keras.layers.Layer]:
    return [lay for lay in model.layers if isinstance(lay, kind)]


def _backbone(model: keras.Model) -> keras.Model:
    (backbone,) = [lay for lay in model.layers if isinstance(lay, keras.Model)]
    return backbone


# --- report 000's CNN at the defaults -------------------------------------------------------


def test_cnn_matches_report_000_at_cifar_shape() -> None:
    model = build_model(RunConfig(model="cnn"), (32, 32, 3), 10)

    assert model.count_params() == 602_698
    trainable = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
    assert (trainable, model.count_params() - trainable) == (602_538, 160)
    body = [layer for layer in model.layers if not isinstance(layer, keras.layers.InputLayer)]
    assert isinstance(body[0], keras.layers.Rescaling)
    assert body[0].scale == pytest.approx(1 / 255)
    got = [(type(lay).__name__, tuple(lay.output.shape), lay.count_params()) for lay in body[1:]]
    assert got == REPORT_000
    assert [lay.momentum for lay in _of(model, keras.layers.BatchNormalization)] == [0.9, 0.9]


def test_layers_have_readable_names_and_model_is_named_after_config() -> None:
    cnn = build_model(RunConfig(model="cnn"), (32, 32, 3), 10)
    mlp = build_model(RunConfig(model="mlp", dense_layers=2), (32, 32, 3), 10)
    resnet = build_model(RunConfig(model="resnet"), (32, 32, 3), 10)

    assert (cnn.name, mlp.name, resnet.name) == ("cnn", "mlp", "resnet")
    assert [lay.name for lay in cnn.layers[1:]] == [
        "rescaling", "conv1", "pool1", "bn1", "conv2", "pool2", "bn2",
        "flatten", "dense", "dropout", "output",
    ]  # fmt: skip
    assert [lay.name for lay in mlp.layers[1:]] == [
        "rescaling", "flatten", "dense1", "dropout1", "dense2", "dropout2", "output",
    ]  # fmt: skip
    assert {"stem_conv", "stage1_add", "stage2_proj", "gap", "output"} <= {
        lay.name for lay in resnet.layers
    }


def test_rescaling_maps_uint8_pixels_to_unit_range() -> None:
    model = build_model(RunConfig(), (8, 8, 1), 10)
    rescale = keras.Model(model.input, model.get_layer("rescaling").output)
    x = np.stack([np.zeros((8, 8, 1), np.uint8), np.full((8, 8, 1), 255, np.uint8)])

    out = keras.ops.convert_to_numpy(rescale(x))

    np.testing.assert_allclose(out[0], 0.0)
    np.testing.assert_allclose(out[1], 1.0, rtol=1e-6)


@pytest.mark.parametrize(
    ("shape", "blocks", "kernel", "expected"),
    [
        ((8, 8, 1), 2, 3, "same"),
        ((9, 9, 1), 2, 3, "same"),
        ((10, 10, 1), 2, 3, "valid"),
        ((10, 9, 3), 2, 3, "same"),
        ((28, 28, 1), 2, 3, "valid"),
        ((32, 32, 3), 2, 3, "valid"),
        ((28, 28, 1), 3, 3, "valid"),  # 28 → 13 → 5 → 1
        ((28, 28, 1), 3, 5, "same"),  # 28 → 12 → 4 → 0
        ((32, 32, 3), 4, 3, "same"),  # 32 → 15 → 6 → 2 → 0
    ],
)
def test_cnn_padding_is_valid_only_when_both_sides_survive_every_block(
    shape: tuple[int, int, int], blocks: int, kernel: int, expected: str
) -> None:
    assert cnn_padding(shape, blocks, kernel) == expected
    # CIFAR-10's 32×32 images allow every depth listed (digits' 8×8 allow 3 blocks).
    config = RunConfig(model="cnn", conv_blocks=blocks, kernel_size=kernel, dataset="cifar10")
    model = build_model(config, shape, 10)
    assert model.get_layer("conv1").padding == expected
    assert model.get_layer(f"pool{blocks}").padding == expected
    height, width = model.get_layer(f"bn{blocks}").output.shape[1:3]
    assert height >= 1 and width >= 1


# --- every key changes the model ------------------------------------------------------------


@pytest.mark.parametrize(
    ("blocks", "filters", "expected"),
    [(3, (8, 16), [8, 16, 16]), (2, (8, 16), [8, 16]), (1, (5,), [5])],
)
def test_conv_blocks_and_filters_set_the_convolutions(
    blocks: int, filters: tuple[int, ...], expected: list[int]
) -> None:
    config = RunConfig(model="cnn", conv_blocks=blocks, filters=filters)
    model = build_model(config, (28, 28, 1), 10)

    assert [lay.filters for lay in _of(model, keras.layers.Conv2D)] == expected
    assert len(_of(model, keras.layers.AveragePooling2D)) == blocks
    assert len(_of(model, keras.layers.BatchNormalization)) == blocks


def test_kernel_size_pooling_and_batch_norm_shape_the_cnn() -> None:
    config = RunConfig(model="cnn", kernel_size=5, pooling="max", batch_norm=False)
    model = build_model(config, (28, 28, 1), 10)

    assert [tuple(lay.kernel.shape) for lay in _of(model, keras.layers.Conv2D)] == [
        (5, 5, 1, 16),
        (5, 5, 16, 64),
    ]
    assert len(_of(model, keras.layers.MaxPooling2D)) == 2
    assert not _of(model, keras.layers.AveragePooling2D)
    assert not _of(model, keras.layers.BatchNormalization)


@pytest.mark.parametrize("model_name", ["cnn", "resnet", "mlp"])
def test_activation_and_initializer_reach_every_hidden_layer(model_name: str) -> None:
    config = RunConfig(model=model_name, activation="gelu", initializer="he_normal")
    model = build_model(config, (8, 8, 1), 10)

    weighted = _of(model, keras.layers.Conv2D) + _of(model, keras.layers.Dense)
    assert weighted
    for lay in weighted:
        assert isinstance(lay.kernel_initializer, keras.initializers.HeNormal), lay.name
    hidden = [lay for lay in model.layers if lay.name.startswith(("conv", "dense"))]
    hidden += _of(model, keras.layers.Activation)
    assert hidden
    for lay in hidden:
        assert lay.activation is keras.activations.gelu, lay.name
    assert model.get_layer("output").activation is keras.activations.softmax


@pytest.mark.parametrize("model_name", ["cnn", "resnet", "mlp"])
def test_l1_l2_regularize_every_kernel_and_add_losses(model_name: str) -> None:
    model = build_model(RunConfig(model=model_name, l1=0.001, l2=0.01), (8, 8, 1), 10)
    model(_pixels(2, (8, 8, 1)))

    weighted = _of(model, keras.layers.Conv2D) + _of(model, keras.layers.Dense)
    for lay in weighted:
        assert isinstance(lay.kernel_regularizer, keras.regularizers.L1L2), lay.name
        assert lay.kernel_regularizer.l1 == pytest.approx(0.001)
        assert lay.kernel_regularizer.l2 == pytest.approx(0.01)
    kernels = [keras.ops.convert_to_numpy(lay.kernel) for lay in weighted]
    expected = sum(0.001 * np.abs(k).sum() + 0.01 * np.square(k).sum() for k in kernels)
    assert len(model.losses) == len(weighted)
    assert float(sum(keras.ops.convert_to_numpy(loss) for loss in model.losses)) == (
        pytest.approx(expected, rel=1e-4)
    )


def test_no_regularizer_without_l1_or_l2() -> None:
    model = build_model(RunConfig(model="cnn"), (8, 8, 1), 10)
    model(_pixels(2, (8, 8, 1)))

    assert all(lay.kernel_regularizer is None for lay in _of(model, keras.layers.Conv2D))
    assert not model.losses


@pytest.mark.parametrize("model_name", ["cnn", "resnet", "mlp"])
def test_dense_units_and_layers_set_the_hidden_dense_stack(model_name: str) -> None:
    config = RunConfig(model=model_name, dense_layers=3, dense_units=32, dropout=0.45)
    model = build_model(config, (8, 8, 1), 7)

    assert [lay.units for lay in _of(model, keras.layers.Dense)] == [32, 32, 32, 7]
    rates = [lay.rate for lay in _of(model, keras.layers.Dropout)]
    assert rates == [pytest.approx(0.45)] * (3 if model_name == "mlp" else 1)


def test_mlp_without_dense_layers_is_a_linear_softmax_on_pixels() -> None:
    model = build_model(RunConfig(model="mlp", dense_layers=0), (8, 8, 1), 10)

    assert [type(lay).__name__ for lay in model.layers[1:]] == [
        "Rescaling", "Flatten", "Dense",
    ]  # fmt: skip
    assert model.count_params() == (8 * 8 + 1) * 10


@pytest.mark.parametrize(("model_name", "count"), [("cnn", 1), ("mlp", 1)])
def test_dropout_rate_comes_from_config(model_name: str, count: int) -> None:
    model = build_model(RunConfig(model=model_name, dropout=0.45), (28, 28, 1), 10)
    rates = [lay.rate for lay in model.layers if isinstance(lay, keras.layers.Dropout)]
    assert rates == [pytest.approx(0.45)] * count


def test_standardize_uses_the_sample_mean_and_variance_per_channel() -> None:
    rng = np.random.default_rng(0)
    # Channels with clearly different statistics, so a global mean would not pass.
    sample = np.stack(
        [
            rng.integers(0, 50, (40, 6, 6)),
            rng.integers(100, 256, (40, 6, 6)),
            rng.integers(0, 256, (40, 6, 6)),
        ],
        axis=-1,
    ).astype(np.uint8)
    config = RunConfig(model="cnn", normalization="standardize")
    model = build_model(config, (6, 6, 3), 10, x_sample=sample)

    assert not _of(model, keras.layers.Rescaling)
    norm = model.get_layer("standardize")
    assert isinstance(norm, keras.layers.Normalization)
    mean = keras.ops.convert_to_numpy(norm.mean).reshape(-1)
    variance = keras.ops.convert_to_numpy(norm.variance).reshape(-1)
    np.testing.assert_allclose(mean, sample.mean(axis=(0, 1, 2)), rtol=1e-5)
    np.testing.assert_allclose(variance, sample.var(axis=(0, 1, 2)), rtol=1e-4)
    out = keras.ops.convert_to_numpy(keras.Model(model.input, norm.output)(sample))
    np.testing.assert_allclose(out.mean(axis=(0, 1, 2)), 0.0, atol=1e-4)
    np.testing.assert_allclose(out.std(axis=(0, 1, 2)), 1.0, atol=1e-4)


def test_standardize_needs_a_sample() -> None:
    with pytest.raises(ValueError, match="x_sample"):
        build_model(RunConfig(normalization="standardize"), (8, 8, 1), 10)


@pytest.mark.parametrize("model_name", ["cnn", "resnet", "mlp"])
def test_img_size_resizes_right_after_the_input(model_name: str) -> None:
    model = build_model(RunConfig(model=model_name, img_size=32), (8, 8, 1), 10)

    resize = model.layers[1]
    assert isinstance(resize, keras.layers.Resizing)
    assert (resize.height, resize.width) == (32, 32)
    assert tuple(resize.output.shape) == (None, 32, 32, 1)
    assert isinstance(model.layers[2], keras.layers.Rescaling)
    out = model(_pixels(3, (8, 8, 1)))
    assert tuple(out.shape) == (3, 10)


def test_img_size_equal_to_the_input_adds_no_resizing() -> None:
    model = build_model(RunConfig(model="cnn", img_size=28), (28, 28, 1), 10)
    assert not _of(model, keras.layers.Resizing)


def test_img_size_sets_the_cnn_padding_of_the_resized_images() -> None:
    # 8×8 alone needs "same"; resized to 32×32 the report-000 "valid" layout fits.
    model = build_model(RunConfig(model="cnn", img_size=32), (8, 8, 1), 10)
    assert model.get_layer("conv1").padding == "valid"
    assert tuple(model.get_layer("bn2").output.shape) == (None, 6, 6, 64)


# --- ResNet ---------------------------------------------------------------------------------


def test_resnet_has_residual_stages_with_projection_shortcuts() -> None:
    config = RunConfig(model="resnet", conv_blocks=3, filters=(8, 16))
    model = build_model(config, (32, 32, 3), 10)

    assert len(_of(model, keras.layers.Add)) == 3
    assert len(_of(model, keras.layers.GlobalAveragePooling2D)) == 1
    # Stage 1 keeps shape (identity shortcut); stages 2 and 3 halve the side (projection).
    names = {lay.name for lay in model.layers}
    assert "stage1_proj" not in names
    assert model.get_layer("stage2_proj").kernel_size == (1, 1)
    assert model.get_layer("stage2_proj").strides == (2, 2)
    assert model.get_layer("stage3_proj").filters == 16
    sides = [model.get_layer(f"stage{i}_add").output.shape[1] for i in (1, 2, 3)]
    assert sides == [32, 16, 8]
    # The Add sums the main branch and the shortcut: identity in stage 1, projection in 2.
    parts = ["stem_act", "stage1_b_bn", "stage1_add", "stage2_proj_bn", "stage2_b_bn", "stage2_add"]
    probe = keras.Model(model.input, [model.get_layer(name).output for name in parts])
    out = [keras.ops.convert_to_numpy(t) for t in probe(_pixels(2, (32, 32, 3)))]
    np.testing.assert_allclose(out[2], out[0] + out[1], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(out[5], out[3] + out[4], rtol=1e-5, atol=1e-5)


def test_resnet_stops_downsampling_at_two_pixels() -> None:
    config = RunConfig(model="resnet", conv_blocks=5, filters=(4,))
    model = build_model(config, (8, 8, 1), 10)

    sides = [model.get_layer(f"stage{i}_add").output.shape[1] for i in range(1, 6)]
    assert sides == [8, 4, 2, 2, 2]


def test_resnet_without_batch_norm_has_none_and_uses_conv_biases() -> None:
    model = build_model(RunConfig(model="resnet", batch_norm=False), (8, 8, 1), 10)

    assert not _of(model, keras.layers.BatchNormalization)
    assert all(lay.use_bias for lay in _of(model, keras.layers.Conv2D))


# --- transfer -------------------------------------------------------------------------------


def test_transfer_frozen_backbone_leaves_only_the_head_trainable() -> None:
    model = build_model(RunConfig(**TRANSFER, fine_tune_layers=0), (32, 32, 3), 10)
    backbone = _backbone(model)

    assert isinstance(backbone, keras.Model) and backbone.count_params() > 2_000_000
    assert not backbone.trainable_weights
    trainable = {w.path.split("/")[0] for w in model.trainable_weights}
    assert trainable == {"dense", "output"}
    assert [type(lay).__name__ for lay in model.layers[-4:]] == [
        "GlobalAveragePooling2D", "Dense", "Dropout", "Dense",
    ]  # fmt: skip


@pytest.mark.parametrize("keep_batch_norm", [True, False])
def test_transfer_fine_tunes_exactly_the_top_layers(keep_batch_norm: bool) -> None:
    # Pretrained backbones keep their batch norms frozen; random ones train them too.
    model = build_model(RunConfig(**TRANSFER, fine_tune_layers=0), (32, 32, 3), 10)
    backbone = _backbone(model)
    _freeze(backbone, 5, keep_batch_norm=keep_batch_norm)

    unfrozen = [lay for lay in backbone.layers if lay.trainable and lay.trainable_weights]
    assert len(unfrozen) == 5
    is_bn = [isinstance(lay, keras.layers.BatchNormalization) for lay in backbone.layers]
    candidates = [
        lay
        for lay, bn in zip(backbone.layers, is_bn, strict=True)
        if lay.weights and not (keep_batch_norm and bn)
    ]
    assert unfrozen == candidates[-5:]
    frozen_bn = all(not lay.trainable for lay, bn in zip(backbone.layers, is_bn, strict=True) if bn)
    assert frozen_bn == keep_batch_norm


def test_a_random_backbone_learns_when_fine_tuned() -> None:
    from sklearn.datasets import load_digits

    digits = load_digits()
    x = np.round(digits.images[:512, :, :, None] * 255 / 16).astype("uint8")
    y = digits.target[:512]
    config = RunConfig(**TRANSFER, fine_tune_layers=1000, learning_rate=3e-3, dropout=0.0)
    model = build_model(config, (8, 8, 1), 10)
    compile_model(model, config, 1)
    history = model.fit(x, y, batch_size=32, epochs=3, verbose=0)
    assert history.history["accuracy"][-1] > 0.3  # chance is 0.1


def test_transfer_repeats_gray_to_rgb_at_the_image_size() -> None:
    model = build_model(RunConfig(**TRANSFER), (8, 8, 1), 10)
    x = _pixels(2, (8, 8, 1))

    probe = keras.Model(
        model.input, [model.get_layer("resize").output, model.get_layer("to_rgb").output]
    )
    gray, rgb = (keras.ops.convert_to_numpy(t) for t in probe(x))

    assert gray.shape == (2, 32, 32, 1) and rgb.shape == (2, 32, 32, 3)
    np.testing.assert_array_equal(rgb, np.repeat(gray, 3, axis=-1))
    assert tuple(_backbone(model).input.shape) == (None, 32, 32, 3)


def test_transfer_feeds_the_backbone_its_own_preprocessing_of_the_pixels() -> None:
    # ResNet50: "caffe" preprocessing (RGB to BGR, ImageNet means subtracted), and random
    # features that do not vanish (a random MobileNetV2's are ~1e-13 whatever the input).
    model = build_model(RunConfig(**TRANSFER, backbone="resnet50"), (32, 32, 3), 10)
    x = _pixels(2, (32, 32, 3))
    backbone = _backbone(model)

    features = keras.ops.convert_to_numpy(keras.Model(model.input, model.get_layer("gap").input)(x))

    pixels = x.astype(np.float32)
    expected = backbone(keras.applications.resnet50.preprocess_input(pixels.copy()))
    np.testing.assert_allclose(features, keras.ops.convert_to_numpy(expected), rtol=1e-4, atol=1e-5)
    rescaled = keras.ops.convert_to_numpy(backbone(pixels / 255))
    assert not np.allclose(features, rescaled, atol=1e-3)  # the comparison can tell them apart


# --- every model trains, saves and learns ---------------------------------------------------

MODELS = [
    pytest.param({"model": "cnn"}, id="cnn"),
    pytest.param({"model": "resnet"}, id="resnet"),
    pytest.param({"model": "mlp"}, id="mlp"),
    pytest.param(TRANSFER, id="transfer"),
]


@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "x".join(map(str, s)))
@pytest.mark.parametrize("settings", MODELS)
def test_every_model_and_shape_trains_one_epoch(
    settings: dict, shape: tuple[int, int, int]
) -> None:
    config = RunConfig(**settings)
    model = build_model(config, shape, 10)
    compile_model(model, config, 1)
    # Two eager steps cost a fraction of tracing a training graph (8 s for the small ResNet);
    # graph mode, as the worker trains, is exercised by the fine-tuning and digits tests.
    model.run_eagerly = True
    x = _pixels(64, shape)
    y = np.arange(64) % 10

    history = model.fit(x, y, batch_size=32, epochs=1, verbose=0)

    assert model.output.shape == (None, 10)
    assert np.isfinite(history.history["loss"][0])
    assert 0.0 <= history.history["accuracy"][0] <= 1.0


@pytest.mark.parametrize(
    "settings",
    [
        pytest.param({"model": "resnet", "normalization": "standardize"}, id="resnet"),
        pytest.param({**TRANSFER, "fine_tune_layers": 3}, id="transfer"),
    ],
)
def test_saved_model_loads_with_plain_keras_and_predicts_the_same(
    settings: dict, tmp_path: Path
) -> None:
    # The worker saves every trained model; the pages load it without this module.
    config = RunConfig(**settings)
    x = _pixels(4, (8, 8, 1))
    model = build_model(config, (8, 8, 1), 100, x_sample=x)
    model.save(tmp_path / "model.keras")

    loaded = keras.saving.load_model(tmp_path / "model.keras")

    for name in ("gap", "output"):
        # Relative only: a random MobileNetV2's features are ~1e-13.
        got, want = (keras.Model(m.input, m.get_layer(name).output)(x) for m in (loaded, model))
        np.testing.assert_allclose(
            keras.ops.convert_to_numpy(got), keras.ops.convert_to_numpy(want), rtol=1e-5, atol=0
        )
    assert loaded.output.shape == (None, 100)
    assert len(loaded.trainable_weights) == len(model.trainable_weights)


def test_fine_tuning_trains_only_the_unfrozen_layers_in_graph_mode() -> None:
    # Graph mode, as the worker trains; batch norm statistics must not move either.
    # Pretrained weights keep batch norms frozen: stand in with random ones, frozen the same way.
    config = RunConfig(**TRANSFER, fine_tune_layers=2, learning_rate=0.01)
    model = build_model(config, (8, 8, 1), 10)
    backbone = _backbone(model)
    _freeze(backbone, 2, keep_batch_norm=True)
    compile_model(model, config, 1)
    before = {id(w): keras.ops.convert_to_numpy(w).copy() for w in backbone.weights}

    history = model.fit(_pixels(64, (8, 8, 1)), np.arange(64) % 10, batch_size=32, verbose=0)

    assert np.isfinite(history.history["loss"][0])
    trainable = {id(w) for w in backbone.trainable_weights}
    assert len(trainable) == 2  # the kernels of Conv_1 and block_16_project (no biases)
    for w in backbone.weights:
        moved = not np.array_equal(keras.ops.convert_to_numpy(w), before[id(w)])
        assert moved == (id(w) in trainable), w.path


@pytest.mark.parametrize("loss", ["sparse_categorical_crossentropy", "categorical_crossentropy"])
def test_accuracy_metric_is_true_accuracy_for_both_label_forms(loss: str) -> None:
    # Binary accuracy on one-hot rows would read ~0.9 here; the real accuracy is ~0.1.
    config = RunConfig(loss=loss, model="mlp")
    model = build_model(config, (8, 8, 1), 10)
    compile_model(model, config, 1)
    x = _pixels(64, (8, 8, 1))
    y = np.arange(64) % 10
    labels = prepare_labels(y, config, 10)
    model.fit(x, labels, batch_size=32, epochs=1, verbose=0)

    reported = model.evaluate(x, labels, batch_size=64, verbose=0, return_dict=True)["accuracy"]
    predicted = np.argmax(model.predict(x, batch_size=64, verbose=0), axis=1)

    assert 0.0 <= reported <= 1.0
    assert reported == pytest.approx(np.mean(predicted == y), abs=1e-6)


@pytest.mark.parametrize(
    ("model_name", "loss", "epochs"),
    [
        ("cnn", "sparse_categorical_crossentropy", 2),
        ("resnet", "sparse_categorical_crossentropy", 2),
        ("mlp", "categorical_crossentropy", 3),
    ],
)
def test_models_learn_digits_well_above_chance(model_name: str, loss: str, epochs: int) -> None:
    # Train accuracy over seeds 0-2: cnn ~0.97 and resnet ~0.96 after 2 epochs, mlp ~0.91
    # after 3.
    config = RunConfig(loss=loss, model=model_name, epochs=epochs, batch_size=32)
    x, y = _digits()
    model = build_model(config, x.shape[1:], 10)
    compile_model(model, config, 1)

    history = model.fit(
        x, prepare_labels(y, config, 10), batch_size=32, epochs=epochs, verbose=0, shuffle=True
    )

    assert all(np.isfinite(history.history["loss"]))
    assert history.history["accuracy"][-1] > 0.8  # chance is 0.1


@pytest.mark.parametrize("model_name", ["cnn", "mlp"])
def test_summary_rows_tabulate_every_layer_after_the_input(model_name: str) -> None:
    model = build_model(RunConfig(model=model_name), (32, 32, 3), 10)

    rows = summary_rows(model)

    assert len(rows) == len(model.layers) - 1
    assert rows[0] == {
        "layer": "rescaling",
        "type": "Rescaling",
        "output_shape": "(None, 32, 32, 3)",
        "params": 0,
    }
    assert all(set(row) == {"layer", "type", "output_shape", "params"} for row in rows)
    assert all(isinstance(row["output_shape"], str) for row in rows)
    assert all(isinstance(row["params"], int) for row in rows)
    assert sum(row["params"] for row in rows) == model.count_params()
    assert rows[-1]["output_shape"] == "(None, 10)"


def test_summary_rows_match_report_000_table() -> None:
    rows = summary_rows(build_model(RunConfig(model="cnn"), (32, 32, 3), 10))
    assert [(r["type"], r["output_shape"], r["params"]) for r in rows[1:]] == [
        (kind, str(shape), params) for kind, shape, params in REPORT_000
    ]


def _multiply_adds(model: keras.Model) -> int:
    """Multiply-adds of the model's Conv2D and Dense layers for one image."""
    total = 0
    for layer in model.layers:
        out = layer.output.shape
        if isinstance(layer, keras.layers.Conv2D):
            window = layer.kernel_size[0] * layer.kernel_size[1] * layer.input.shape[-1]
            total += window * out[1] * out[2] * out[3]
        elif isinstance(layer, keras.layers.Dense):
            total += layer.input.shape[-1] * out[-1]
    return total


@pytest.mark.parametrize(
    ("settings", "shape"),
    [
        ({}, (32, 32, 3)),
        ({"filters": [64, 128], "dense_units": 512}, (8, 8, 1)),
        ({"conv_blocks": 3, "kernel_size": 5, "pooling": "max", "batch_norm": False}, (28, 28, 1)),
        ({"img_size": 32}, (8, 8, 1)),
        ({"model": "resnet"}, (8, 8, 1)),
        ({"model": "resnet", "conv_blocks": 4, "batch_norm": False}, (32, 32, 3)),
        ({"model": "mlp", "dense_layers": 2}, (28, 28, 1)),
    ],
)
def test_the_counts_without_tensorflow_match_the_built_model(
    settings: dict, shape: tuple[int, int, int]
) -> None:
    config = RunConfig(**settings)
    model = build_model(config, shape, 10)
    cost = model_cost(config, shape, 10)
    assert cost.params == model.count_params()
    assert cost.macs == _multiply_adds(model)
    assert cost.layers == len(model.layers)
