"""The checks of a run config that need the disk, made when a run is launched.

A ``RunConfig`` is a value: building one reads no file. Before a run, a sweep, a search, a
fork or a promotion is queued, :func:`check_config` looks its dataset up (a built-in key, or a
folder that is read here), checks the settings that depend on the dataset's size and classes,
and makes sure its files are in place. A finished run whose folder is gone still opens and
exports; only what would train on it again is refused.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from core.data.availability import check_available
from core.data.folders import dataset_info
from core.data.weights import check_weights
from core.spec.catalog import DATASETS, DatasetInfo
from core.spec.config import ConfigError, RunConfig, check_against


def read_dataset(cfg: RunConfig) -> DatasetInfo:
    """Return the facts about a config's dataset: the catalog's, or its folder's, read now.

    Raises:
        ConfigError: (field ``dataset``) for neither a built-in dataset nor a usable folder.
    """
    try:
        return dataset_info(cfg.dataset)
    except ConfigError:
        raise
    except (OSError, RuntimeError, ValueError) as exc:  # a name no file system can look up
        raise ConfigError(
            "dataset",
            f"{cfg.dataset[:80]!r} is neither a built-in dataset nor a folder that can be read "
            f"({getattr(exc, 'strerror', None) or exc}).",
        ) from None


def train_size(cfg: RunConfig) -> int:
    """Images a run of this config trains on, once validation is held out.

    Raises:
        ConfigError: if the dataset cannot be read.
    """
    return cfg.train_images(read_dataset(cfg).n_train)


def check_config(cfg: RunConfig) -> RunConfig:
    """Check a config against its dataset before it is queued; return it as it will run.

    Returns:
        The config, with a folder dataset as its absolute path (the form the store keeps).

    Raises:
        ConfigError: naming the field to change; ``DatasetUnavailable`` when a built-in
            dataset's files are missing.
    """
    return check_configs([cfg])[0]


def check_configs(configs: Sequence[RunConfig]) -> list[RunConfig]:
    """Check the configs of one launch against their datasets, reading each dataset once.

    Returns:
        The configs as they will run (see :func:`check_config`), in order.

    Raises:
        ConfigError: for the first config that does not fit its dataset.
    """
    read: dict[str, DatasetInfo] = {}
    checked = []
    for cfg in configs:
        if cfg.dataset not in read:
            read[cfg.dataset] = read_dataset(cfg)
            if cfg.dataset in DATASETS:  # a folder has no files to fetch, and was just read
                check_available(cfg.dataset)
        info = read[cfg.dataset]
        if info.name != cfg.dataset:
            cfg = cfg.replace(dataset=info.name)
        check_against(cfg, info)
        checked.append(cfg)
    return checked


# The settings that decide which ImageNet weights file a run needs.
_WEIGHTS_KEYS = frozenset({"dataset", "model", "backbone", "pretrained", "img_size"})


def launch_problems(values: dict[str, Any]) -> tuple[RunConfig | None, list[ConfigError]]:
    """Check a form's values as a launch would, finding every problem of the submission.

    The config's own checks, those against its dataset and the ImageNet weights it needs
    are all made, so one press of a button names every value to change.

    Returns:
        The config as it will run (see :func:`check_config`) and no problems; or None and
        each problem once, in the order of the form.
    """
    cfg, problems = RunConfig.checked(values)
    flagged = {p.field for p in problems if p.unusable}
    checked = None
    if "dataset" not in flagged:
        try:
            checked = check_config(cfg)
        except ConfigError as exc:
            problems += exc.problems
    if not flagged & _WEIGHTS_KEYS:
        try:
            check_weights(checked or cfg)
        except ConfigError as exc:
            problems.append(exc)
    unique = list({(p.field, p.message): p for p in problems}.values())
    return (checked if not unique else None), unique
