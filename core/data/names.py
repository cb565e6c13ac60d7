"""Short names a person reads: a dataset's, and a run's (``cnn on digits``).

A folder's name may come from the zip it was uploaded as, recorded in its manifest, so these
read the disk.
"""

from __future__ import annotations

from pathlib import Path

from core.data.folder_scan import read_manifest
from core.spec.catalog import DATASETS


def run_title(config: dict) -> str:
    """``cnn on digits``: the model and a readable dataset name (a folder's own name)."""
    return f"{config.get('model')} on {dataset_name(str(config.get('dataset')))}"


def dataset_name(dataset: str) -> str:
    """A short name: the built-in key, an upload's zip name, or a folder's own name."""
    if dataset in DATASETS:
        return dataset
    folder = Path(dataset)
    note = read_manifest(folder) or {}
    return str(note.get("name") or folder.name).removesuffix(".zip")
