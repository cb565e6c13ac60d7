"""Tests for core.data.weights: ImageNet files Keras would download, found locally or explained."""

from __future__ import annotations

import warnings
from pathlib import Path

import h5py
import keras
import numpy as np
import pytest
from keras.src.legacy.saving import legacy_h5_format
from keras.src.utils import file_utils

from core.data.weights import (
    WeightsUnavailable,
    check_weights,
    missing_weights,
    mobilenet_v2_rows,
    search_lacks_weights,
    weights_file,
    weights_path,
    weights_url,
)
from core.engine.models import build_model
from core.spec.config import ConfigError, RunConfig
from core.spec.search_space import SearchSpace
from core.store import paths

APPLICATIONS = {
    "mobilenet_v2": keras.applications.MobileNetV2,
    "xception": keras.applications.Xception,
    "resnet50": keras.applications.ResNet50,
    "efficientnet_b0": keras.applications.EfficientNetB0,
}


class _Asked(Exception):
    """What an application asked Keras's downloader for."""

    def __init__(self, fname: str, origin: str, cache_subdir: str) -> None:
        super().__init__(fname)
        self.fname, self.origin, self.cache_subdir = fname, origin, cache_subdir


def _download_request(backbone: str, side: int) -> _Asked:
    """Build ``backbone`` with weights="imagenet" and return the download Keras starts."""

    def refuse(fname: str, origin: str, cache_subdir: str = "datasets", **_: object) -> str:
        raise _Asked(fname, origin, cache_subdir)

    with pytest.MonkeyPatch.context() as patch, warnings.catch_warnings():
        # MobileNetV2 warns that it takes the 224-pixel weights for other sizes.
        warnings.simplefilter("ignore", UserWarning)
        patch.setattr(file_utils, "get_file", refuse)
        with pytest.raises(_Asked) as asked:
            APPLICATIONS[backbone](
                include_top=False, weights="imagenet", input_shape=(side, side, 3)
            )
    return asked.value


def _config(backbone: str, side: int, pretrained: str = "imagenet") -> RunConfig:
    return RunConfig(model="transfer", backbone=backbone, img_size=side, pretrained=pretrained)


def _backbone(model: keras.Model) -> keras.Model:
    (backbone,) = [lay for lay in model.layers if isinstance(lay, keras.Model)]
    return backbone


def test_mobilenet_v2_file_at_a_trained_size_is_the_file_keras_downloads() -> None:
    # 96 pixels has weights of its own; sizes without (32: 224's) are in the loading test.
    config = _config("mobilenet_v2", 96)
    asked = _download_request("mobilenet_v2", 96)

    assert weights_file(config) == Path(asked.fname)
    assert weights_url(config) == asked.origin
    assert asked.cache_subdir == "models"


def test_mobilenet_v2_rows_follow_keras_choice() -> None:
    assert [mobilenet_v2_rows(s) for s in (32, 96, 128, 160, 192, 224, 225, 71)] == [
        224, 96, 128, 160, 192, 224, 224, 224,
    ]  # fmt: skip
    config = RunConfig(model="transfer", dataset="cifar10")
    assert weights_file(config, side=128).name.endswith("_1.0_128_no_top.h5")


def test_weights_file_uses_the_dataset_side_when_img_size_is_0() -> None:
    config = RunConfig(model="transfer", dataset="cifar10", img_size=0)
    assert weights_file(config) == Path(
        "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_224_no_top.h5"
    )


@pytest.mark.parametrize(
    "config",
    [
        RunConfig(model="cnn"),
        RunConfig(model="resnet", pretrained="imagenet"),
        _config("resnet50", 32, pretrained="none"),
    ],
)
def test_no_weights_needed_without_a_pretrained_transfer_model(
    config: RunConfig, cache: Path
) -> None:
    assert weights_file(config) is None
    assert weights_path(config, cache) is None
    assert missing_weights(config, cache) is None
    check_weights(config, cache)


def test_missing_file_says_what_to_fetch_and_where_to_put_it(cache: Path) -> None:
    config = _config("xception", 71)
    folder = paths.keras_home(cache) / "models"
    name = "xception_weights_tf_dim_ordering_tf_kernels_notop.h5"

    assert missing_weights(config, cache) == folder / name
    with pytest.raises(WeightsUnavailable) as raised:
        check_weights(config, cache)

    error = raised.value
    assert isinstance(error, ConfigError) and error.field == "pretrained"
    assert name in error.message and str(folder) in error.message
    assert (
        "https://storage.googleapis.com/tensorflow/keras-applications/xception/" + name
        in error.message
    )
    assert "cannot be downloaded here" in error.message
    assert "pretrained weights to none" in error.message
    assert error.path == folder / name


def test_present_file_is_not_missing(cache: Path) -> None:
    config = _config("resnet50", 32)
    path = weights_path(config, cache)
    path.parent.mkdir(parents=True)
    path.write_bytes(b"")

    assert missing_weights(config, cache) is None
    check_weights(config, cache)


def test_build_model_refuses_a_missing_file_before_building(cache: Path) -> None:
    # No root given: the default cache folder is the one HPE_CACHE_DIR names.
    with pytest.raises(WeightsUnavailable, match="efficientnetb0_notop.h5"):
        build_model(_config("efficientnet_b0", 32), (8, 8, 1), 10)


def _stand_in_file(config: RunConfig, side: int, cache: Path) -> tuple[keras.Model, Path]:
    """Write random weights where the ImageNet file goes, in the same legacy HDF5 format."""
    keras.utils.set_random_seed(0)
    donor = APPLICATIONS[config.backbone](
        include_top=False, weights=None, input_shape=(side, side, 3)
    )
    path = missing_weights(config, cache)
    path.parent.mkdir(parents=True)
    with h5py.File(path, "w") as f:
        legacy_h5_format.save_weights_to_hdf5_group(f, donor)
    return donor, path


def _differing(model: keras.Model, other: keras.Model) -> list[str]:
    """Paths of the weights that differ, matched in order (layer names differ between builds)."""
    return [
        w.path
        for w, o in zip(model.weights, other.weights, strict=True)
        if not np.array_equal(keras.ops.convert_to_numpy(w), keras.ops.convert_to_numpy(o))
    ]


@pytest.mark.parametrize(("backbone", "side"), [("mobilenet_v2", 32), ("efficientnet_b0", 32)])
def test_build_model_loads_the_local_file_as_keras_imagenet_would(
    backbone: str, side: int, cache: Path
) -> None:
    config = _config(backbone, side)
    donor, path = _stand_in_file(config, side, cache)
    keras.utils.set_random_seed(1)
    loaded = _backbone(build_model(config, (side, side, 3), 10, root=cache))

    # Keras's own weights="imagenet" path, its download answered with the same file.
    asked: list[tuple[str, str, str]] = []

    def cached(fname: str, origin: str, cache_subdir: str = "datasets", **_: object) -> str:
        asked.append((fname, origin, cache_subdir))
        return str(path)

    with pytest.MonkeyPatch.context() as patch, warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        patch.setattr(file_utils, "get_file", cached)
        reference = APPLICATIONS[backbone](
            include_top=False, weights="imagenet", input_shape=(side, side, 3)
        )

    assert asked == [(path.name, weights_url(config), "models")]
    assert path.name == weights_file(config).name
    # EfficientNet's input normalization is rescaled as weights="imagenet" does it.
    assert len(_differing(loaded, donor)) == (1 if backbone == "efficientnet_b0" else 0)
    x = np.random.default_rng(0).uniform(0, 255, (2, side, side, 3)).astype(np.float32)
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(loaded(x)),
        keras.ops.convert_to_numpy(reference(x)),
        rtol=1e-4,
        atol=1e-4,
    )


@pytest.mark.parametrize(("backbone", "side"), [("resnet50", 32), ("xception", 71)])
def test_build_model_loads_the_local_file(backbone: str, side: int, cache: Path) -> None:
    config = _config(backbone, side)
    donor, _ = _stand_in_file(config, side, cache)
    keras.utils.set_random_seed(1)

    loaded = _backbone(build_model(config, (side, side, 3), 10, root=cache))

    assert not _differing(loaded, donor)


def test_resnet50_and_xception_file_names_are_those_in_the_keras_source() -> None:
    # Building these two once more only to read the name they download costs seconds; their
    # source spells the names out.
    folder = Path(keras.src.applications.__file__).parent
    xception = (folder / "xception.py").read_text()
    resnet = (folder / "resnet.py").read_text()
    xception_config, resnet_config = _config("xception", 71), _config("resnet50", 32)

    assert weights_url(xception_config) == keras.src.applications.xception.WEIGHTS_PATH_NO_TOP
    assert f'"{weights_file(xception_config)}",\n                WEIGHTS_PATH_NO_TOP' in xception
    assert 'f"{weights_name}_weights_tf_dim_ordering_tf_kernels_notop.h5"' in resnet
    assert 'weights_name="resnet50"' in resnet
    assert weights_file(resnet_config) == Path(
        "resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5"
    )
    assert weights_url(resnet_config) == (
        keras.src.applications.resnet.BASE_WEIGHTS_PATH + weights_file(resnet_config).name
    )


def test_a_search_lacks_weights_until_every_backbone_and_size_it_picks_has_its_file(
    cache: Path,
) -> None:
    base = _config("xception", 96)
    space = SearchSpace.from_list(
        [
            {"key": "backbone", "kind": "choice", "values": ["xception", "mobilenet_v2"]},
            {"key": "img_size", "kind": "choice", "values": [71, 96]},
        ]
    )
    assert search_lacks_weights(base, space, cache)
    needed = {
        weights_path(base.replace(backbone=b, img_size=s), cache)
        for b in ("xception", "mobilenet_v2")
        for s in (71, 96)
    }
    *first, last = sorted(needed)
    for path in first:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"")
    assert search_lacks_weights(base, space, cache)  # one file still missing
    last.write_bytes(b"")
    assert not search_lacks_weights(base, space, cache)
    fixed_none = SearchSpace.from_list([{"key": "pretrained", "kind": "fixed", "value": "none"}])
    assert not search_lacks_weights(_config("resnet50", 32), fixed_none, cache)
