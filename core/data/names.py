"""Short names a person reads: a dataset's, and a run's (``cnn · batch 20 · lr 0.01 on digits``).

A run's name says what sets it apart from the defaults (``RunConfig()``), so two runs in a list
can be told apart at a glance. A folder's name may come from the zip it was uploaded as,
recorded in its manifest, so these read the disk.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import MISSING, fields
from pathlib import Path
from typing import Any

from core.data.folder_scan import read_manifest
from core.spec.catalog import DATASETS
from core.spec.config import RunConfig
from core.spec.formats import number
from core.spec.params import PARAM_BY_KEY

# The differences a name shows before it sums the rest up as "+N more".
MOST_SHOWN = 4
# Short words for the settings people change most, in the order a name lists them; any other
# setting follows in the parameter table's order, under its label in lower case.
_SHORT = {
    "batch_size": "batch",
    "learning_rate": "lr",
    "optimizer": "",  # the optimizer's own name says it: "sgd"
    "epochs": "epochs",
    "dropout": "dropout",
    "augment": "aug",
    "conv_blocks": "blocks",
    "filters": "filters",
    "dense_units": "dense",
    "dense_layers": "dense layers",
    "weight_decay": "wd",
    "momentum": "momentum",
    "lr_schedule": "",  # "cosine"
    "img_size": "size",
    "validation_split": "val split",
    "label_smoothing": "smoothing",
    "early_stopping_patience": "patience",
    "seed": "seed",
}
# Settings only some models read; a difference in one the model ignores is left out.
_CONV_KEYS = ("conv_blocks", "filters", "kernel_size", "pooling")
_TRANSFER_KEYS = ("backbone", "pretrained", "fine_tune_layers")
_UNUSED = {
    "cnn": _TRANSFER_KEYS,
    "resnet": (*_TRANSFER_KEYS, "pooling"),
    "mlp": (*_CONV_KEYS, "batch_norm", *_TRANSFER_KEYS),
    "transfer": (*_CONV_KEYS, "batch_norm"),
}
_DEFAULTS: dict[str, Any] = {
    f.name: f.default for f in fields(RunConfig) if f.default is not MISSING
}
_NAMED_APART = ("model", "dataset")


def run_title(config: dict, omit: Collection[str] = ()) -> str:
    """A run's name: its model, what differs from the defaults, and its dataset.

    ``cnn on digits`` at the defaults; ``cnn · batch 20 · lr 0.01 on digits`` otherwise, with
    at most ``MOST_SHOWN`` differences before ``+N more``.

    Args:
        config: A run config as a dict (``RunConfig.to_dict``, or one the store kept).
        omit: Keys the caller shows by itself (the worker's log line says the epochs).
    """
    changes = differences(config, omit)
    if len(changes) > MOST_SHOWN:
        changes = [*changes[: MOST_SHOWN - 1], f"+{len(changes) - MOST_SHOWN + 1} more"]
    head = " · ".join([str(config.get("model")), *changes])
    return f"{head} on {dataset_name(str(config.get('dataset')))}"


def differences(config: dict, omit: Collection[str] = ()) -> list[str]:
    """What a config changes from the defaults, each as people write it: ``batch 20``.

    The model and dataset are named apart; settings the model does not read are left out.
    """
    unused = set(_UNUSED.get(str(config.get("model")), ())) | set(omit) | set(_NAMED_APART)
    order = [*_SHORT, *(k for k in _DEFAULTS if k not in _SHORT)]
    return [
        _describe(key, config[key])
        for key in order
        if key not in unused and key in config and not _same(config[key], _DEFAULTS[key])
    ]


def change_words(changes: Mapping[str, Any]) -> list[str]:
    """Settings as a name writes them, in the order given: ``lr 0.0001``, ``dropout 0.4``."""
    return [_describe(key, value) for key, value in changes.items()]


def _same(value: Any, default: Any) -> bool:
    if isinstance(default, tuple):
        return isinstance(value, (list, tuple)) and tuple(value) == default
    return value == default and isinstance(value, bool) == isinstance(default, bool)


def _describe(key: str, value: Any) -> str:
    if isinstance(value, bool):
        label = PARAM_BY_KEY[key].label.lower() if key in PARAM_BY_KEY else key
        return label if value else f"no {label}"
    label = _SHORT[key] if key in _SHORT else _label(key)
    return f"{label} {_shown(value)}" if label else _shown(value)


def _label(key: str) -> str:
    param = PARAM_BY_KEY.get(key)
    return param.label.lower() if param else key


def _shown(value: Any) -> str:
    """A value as people write it: 0.01, 1e-4, 16/64, flip+rotation:15."""
    if isinstance(value, (list, tuple)):
        joiner = "/" if all(isinstance(v, int) for v in value) else "+"
        return joiner.join(map(_shown, value)) or "none"
    if isinstance(value, float):
        return number(value)
    return str(value)


def dataset_name(dataset: str) -> str:
    """A short name: the built-in key, an upload's zip name, or a folder's own name."""
    if dataset in DATASETS:
        return dataset
    folder = Path(dataset)
    note = read_manifest(folder) or {}
    return str(note.get("name") or folder.name).removesuffix(".zip")
