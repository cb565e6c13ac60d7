"""ImageNet weight files of the transfer backbones, found locally or explained when missing.

Keras would download these files itself (``keras.applications.<Name>(weights="imagenet")``),
but this app runs without network. So a transfer model with ``pretrained="imagenet"`` loads
the very file Keras would have fetched, from ``paths.keras_home(root)/"models"`` (where Keras
caches it too), and a missing file becomes a ``WeightsUnavailable`` that says where to get it.

Only the standard library is imported: the UI process imports this module and must not load
TensorFlow or Keras.
"""

from __future__ import annotations

from pathlib import Path

from core.spec.catalog import BACKBONES, DATASETS
from core.spec.config import ConfigError, RunConfig
from core.spec.search_space import SearchSpace
from core.store import paths

# File names and URLs exactly as Keras 3.15.1 builds them for ``include_top=False``
# (keras/src/applications/{mobilenet_v2,xception,resnet,efficientnet}.py).
_APPS = "https://storage.googleapis.com/tensorflow/keras-applications/"
_NO_TOP: dict[str, tuple[str, str]] = {
    # backbone: (file name, folder URL the file name is appended to)
    "xception": ("xception_weights_tf_dim_ordering_tf_kernels_notop.h5", _APPS + "xception/"),
    "resnet50": ("resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5", _APPS + "resnet/"),
    "efficientnet_b0": (
        "efficientnetb0_notop.h5",
        "https://storage.googleapis.com/keras-applications/",
    ),
}
_MOBILENET_V2_URL = _APPS + "mobilenet_v2/"
# MobileNetV2 has weights trained at these square sizes; Keras takes 224's for any other.
MOBILENET_V2_SIZES = (96, 128, 160, 192, 224)
MOBILENET_V2_ALPHA = 1.0


class WeightsUnavailable(ConfigError):
    """The ImageNet weights a run needs are not on this machine, and cannot be downloaded.

    Attributes:
        path: The full path the file is expected at.
        url: Where to download it on a machine with network.
    """

    def __init__(self, path: Path, url: str, backbone: str) -> None:
        name = BACKBONES.get(backbone, backbone)
        super().__init__(
            "pretrained",
            f"ImageNet weights cannot be downloaded here (there is no network), and the "
            f"{name} file {path.name} is not in {path.parent}. On a machine with network, "
            f"download {url} and copy {path.name} into {path.parent}. Or set pretrained "
            f"weights to none to train {name} from random weights.",
        )
        self.path = path
        self.url = url


def mobilenet_v2_rows(side: int) -> int:
    """Return the input size whose MobileNetV2 weights Keras loads for square images of ``side``.

    Args:
        side: Side in pixels of the (square) images the backbone sees.

    Returns:
        ``side`` when MobileNetV2 was trained at that size (96, 128, 160, 192 or 224), else 224,
        as Keras chooses it (it warns and takes 224's weights then).
    """
    return side if side in MOBILENET_V2_SIZES else 224


def weights_file(config: RunConfig, side: int | None = None) -> Path | None:
    """Return the name of the ImageNet weight file a run's backbone loads, or None.

    Args:
        config: The run config; ``model``, ``pretrained``, ``backbone``, ``img_size`` and
            ``dataset`` are used.
        side: Side in pixels of the images the backbone sees; defaults to ``img_size``, or the
            dataset's own side when that is 0. Only MobileNetV2's file depends on it.

    Returns:
        The bare file name (a relative ``Path``) that Keras would download for
        ``include_top=False``, or None when the run needs no ImageNet weights (not a transfer
        model, or ``pretrained == "none"``).
    """
    return _name_and_url(config, side)[0] if _needs_weights(config) else None


def weights_url(config: RunConfig, side: int | None = None) -> str | None:
    """Return the URL Keras downloads a run's ImageNet weights from, or None (see weights_file)."""
    return _name_and_url(config, side)[1] if _needs_weights(config) else None


def weights_path(
    config: RunConfig, root: Path | None = None, side: int | None = None
) -> Path | None:
    """Return the full path a run's ImageNet weight file is read from, or None when not needed.

    Args:
        config: The run config.
        root: The cache folder; defaults to ``paths.cache_dir()``.
        side: As for :func:`weights_file`.

    Returns:
        ``paths.keras_home(root)/"models"/<file name>``, present or not; None when the run
        needs no ImageNet weights.
    """
    name = weights_file(config, side)
    return None if name is None else paths.keras_home(root) / "models" / name


def missing_weights(
    config: RunConfig, root: Path | None = None, side: int | None = None
) -> Path | None:
    """Return the full path of the ImageNet weight file a run needs but lacks, or None.

    Args:
        config: The run config.
        root: The cache folder; defaults to ``paths.cache_dir()``.
        side: As for :func:`weights_file`.

    Returns:
        The path under ``paths.keras_home(root)/"models"`` when the run needs that file and it
        is not a file there; None when it is present or not needed.
    """
    path = weights_path(config, root, side)
    return path if path is not None and not path.is_file() else None


def check_weights(config: RunConfig, root: Path | None = None, side: int | None = None) -> None:
    """Make sure a run's ImageNet weights can be loaded without network.

    Args:
        config: The run config.
        root: The cache folder; defaults to ``paths.cache_dir()``.
        side: As for :func:`weights_file`.

    Raises:
        WeightsUnavailable: naming the file, the folder it goes in and the URL to fetch it from.
    """
    path = missing_weights(config, root, side)
    if path is not None:
        url = weights_url(config, side)
        assert url is not None  # a missing file is always a needed one
        raise WeightsUnavailable(path, url, config.backbone)


def _needs_weights(config: RunConfig) -> bool:
    return config.model == "transfer" and config.pretrained != "none"


def _name_and_url(config: RunConfig, side: int | None) -> tuple[Path, str]:
    if config.backbone == "mobilenet_v2":
        if side is None:
            side = config.img_size or min(DATASETS[config.dataset].shape[:2])
        rows = mobilenet_v2_rows(side)
        name = (
            "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_"
            f"{float(MOBILENET_V2_ALPHA)}_{rows}_no_top.h5"
        )
        return Path(name), _MOBILENET_V2_URL + name
    name, folder = _NO_TOP[config.backbone]
    return Path(name), folder + name


def search_lacks_weights(base: RunConfig, space: SearchSpace, root: Path | None = None) -> bool:
    """Whether some trial of a search would need ImageNet weights that are not on this machine.

    Each backbone and image size the space can pick (its choices, or both ends of a range)
    is checked against the base config.

    Args:
        base: The search's base config.
        space: The search space (its ``backbone``, ``img_size`` and ``pretrained`` keys count).
        root: The cache folder; defaults to ``paths.cache_dir()``.
    """
    dims = {d.key: d for d in space.dimensions}

    def picks(key: str) -> list:
        return dims[key].corners() if key in dims else [getattr(base, key)]

    for pretrained in picks("pretrained"):
        for backbone in picks("backbone"):
            for size in picks("img_size"):
                cfg = base.replace(pretrained=pretrained, backbone=backbone, img_size=size)
                if missing_weights(cfg, root) is not None:
                    return True
    return False
