"""Everything a finished run hands over, as files and zips: its bundle, its logs, its study.

A run's *bundle* holds its model (``.keras``), weights (``.weights.h5``), config
(``.config.json``, with seed, data fingerprint and library versions), a standalone Keras
``train.py`` (``core.handover.export_script``) and its TensorBoard logs. Every name starts with the
run's stem, ``study3-run7-digits-mlp-acc95.3``, so files from many runs never clash and say
what they are. ``write_bundle`` puts them in a folder (``python -m core export``);
``bundle_zip`` packs the same into one zip (the Runs page). A study's trials are one CSV
(``study_csv``), and its best run (:func:`best_trial`) is the one whose bundle a study offers.

Nothing here imports Streamlit or TensorFlow.
"""

from __future__ import annotations

import io
import json
import shutil
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from core.data.names import dataset_name
from core.handover.export_script import export_script
from core.handover.promote import is_promotion
from core.store import Status, Store, Trial, paths
from core.views.charts import safe_name
from core.views.runs import RUN_COLUMNS, runs_frame

# (artifact key in a trial's results, file name in its run folder, suffix of the copy)
ARTIFACTS = (
    ("model", "model.keras", ".keras"),
    ("weights", "model.weights.h5", ".weights.h5"),
    ("config", "config.json", ".config.json"),
)
SCRIPT_SUFFIX = "-train.py"
LOGS_SUFFIX = "-logs"


@dataclass(frozen=True)
class BundleFiles:
    """Where a run's bundle comes from.

    Attributes:
        stem: The name every file of the bundle starts with.
        files: (source file, name in the bundle) for the model, weights and config.
        script: The text of the standalone ``train.py``.
        logs: The run's TensorBoard log folder, None when it has none.
    """

    stem: str
    files: list[tuple[Path, str]]
    script: str
    logs: Path | None


def export_name(trial: Trial) -> str:
    """The stem of a run's exported files: ``study3-run7-digits-mlp-acc95.3``."""
    cfg = trial.config
    score = f"acc{trial.test_accuracy * 100:.1f}" if trial.test_accuracy is not None else "unscored"
    dataset = dataset_name(str(cfg.get("dataset")))
    return safe_name(f"study{trial.study_id}-run{trial.id}-{dataset}-{cfg.get('model')}-{score}")


def run_folder(trial: Trial, root: Path | None = None) -> Path:
    """The folder a trial's files are saved in."""
    return paths.runs_dir(root) / str(trial.study_id) / str(trial.id)


def bundle_files(store: Store, trial_id: int, root: Path | None = None) -> BundleFiles:
    """Find a run's saved files and write its ``train.py``.

    Raises:
        KeyError: if there is no such run.
        FileNotFoundError: if the run has no saved model, weights or config (it did not
            complete, or its files were deleted).
    """
    trial = store.trial(trial_id)
    folder = run_folder(trial, root)
    saved = trial.results.get("artifacts", {})
    stem = export_name(trial)
    files = []
    for key, file_name, suffix in ARTIFACTS:
        source = Path(saved.get(key) or folder / file_name)
        if not source.is_file():
            raise FileNotFoundError(
                f"run {trial_id} has no saved {file_name} (status {trial.status})"
            )
        files.append((source, f"{stem}{suffix}"))
    study = store.study(trial.study_id)
    script = export_script(
        trial.run_config,
        source=f"run {trial.id} (study {study.id}, {study.name!r})",
        promoted=is_promotion(store, trial),
        recorded=trial.results,
    )
    logs = Path(saved.get("logs") or folder / "logs")
    return BundleFiles(stem, files, script, logs if logs.is_dir() else None)


def write_bundle(store: Store, trial_id: int, out: Path, root: Path | None = None) -> list[Path]:
    """Write a run's bundle into the folder ``out``; return what was written, in order.

    The model, weights and config are copied, ``<stem>-train.py`` written and the logs
    copied into ``<stem>-logs/`` (left out when the run has none).

    Raises:
        KeyError: if there is no such run.
        FileNotFoundError: if the run has no saved files (nothing is written then).
    """
    found = bundle_files(store, trial_id, root)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for source, name in found.files:
        shutil.copyfile(source, out / name)
        written.append(out / name)
    script = out / f"{found.stem}{SCRIPT_SUFFIX}"
    script.write_text(found.script)
    written.append(script)
    if found.logs is not None:
        logs = out / f"{found.stem}{LOGS_SUFFIX}"
        shutil.copytree(found.logs, logs, dirs_exist_ok=True)
        written.append(logs)
    return written


def bundle_zip(store: Store, trial_id: int, root: Path | None = None) -> tuple[str, bytes]:
    """A run's bundle as one zip: its file name and bytes.

    The zip holds one folder, ``<stem>/``, with the files :func:`write_bundle` writes.

    Raises:
        KeyError: if there is no such run.
        FileNotFoundError: if the run has no saved files.
    """
    found = bundle_files(store, trial_id, root)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for source, name in found.files:
            archive.write(source, f"{found.stem}/{name}")
        archive.writestr(f"{found.stem}/{found.stem}{SCRIPT_SUFFIX}", found.script)
        if found.logs is not None:
            _add_folder(archive, found.logs, f"{found.stem}/{found.stem}{LOGS_SUFFIX}")
    return f"{found.stem}-bundle.zip", buffer.getvalue()


def script_file(store: Store, trial_id: int) -> tuple[str, str]:
    """A run's standalone ``train.py``: its file name and text.

    Raises:
        KeyError: if there is no such run.
    """
    trial = store.trial(trial_id)
    study = store.study(trial.study_id)
    text = export_script(
        trial.run_config,
        source=f"run {trial.id} (study {study.id}, {study.name!r})",
        promoted=is_promotion(store, trial),
        recorded=trial.results,
    )
    return f"{export_name(trial)}{SCRIPT_SUFFIX}", text


def logs_zip(trial: Trial, root: Path | None = None) -> tuple[str, bytes] | None:
    """A run's TensorBoard logs as a zip (file name and bytes); None when it has none.

    Unzip and run ``tensorboard --logdir <the folder>`` to browse them.
    """
    logs = Path(trial.results.get("artifacts", {}).get("logs") or run_folder(trial, root) / "logs")
    if not logs.is_dir():
        return None
    stem = f"{export_name(trial)}{LOGS_SUFFIX}"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        _add_folder(archive, logs, stem)
    return f"{stem}.zip", buffer.getvalue()


def _add_folder(archive: zipfile.ZipFile, folder: Path, prefix: str) -> None:
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            archive.write(path, f"{prefix}/{path.relative_to(folder).as_posix()}")


def best_trial(store: Store, study_id: int) -> Trial | None:
    """The completed trial of a study with the highest test accuracy (None if none completed).

    Ties go to the lower test loss, then to the earlier trial.
    """
    done = [
        t
        for t in store.trials(study_ids=[study_id], statuses=(Status.COMPLETED,))
        if t.test_accuracy is not None
    ]
    if not done:
        return None
    return min(done, key=lambda t: (-t.test_accuracy, t.test_loss or 0.0, t.id))


def study_frame(store: Store, study_id: int) -> pd.DataFrame:
    """Every trial of one study: the runs table's columns, then one ``config.<key>`` per setting.

    Raises:
        KeyError: if there is no such study.
    """
    store.study(study_id)
    frame = runs_frame(store, study_ids=[study_id])
    trials = {t.id: t for t in store.trials(study_ids=[study_id])}
    configs = pd.DataFrame(
        [
            {f"config.{k}": _cell(v) for k, v in sorted(trials[tid].config.items())}
            for tid in frame["trial"]
        ],
        index=frame.index,
    )
    return pd.concat([frame[RUN_COLUMNS], configs], axis=1).sort_values("number")


def _cell(value: object) -> object:
    """Lists become one JSON text cell; everything else stays as it is."""
    return json.dumps(value) if isinstance(value, (list, tuple, dict)) else value


def study_csv(store: Store, study_id: int) -> tuple[str, str]:
    """A study's trials as CSV (see :func:`study_frame`): its file name and text.

    Raises:
        KeyError: if there is no such study.
    """
    study = store.study(study_id)
    name = safe_name(f"study{study.id}-{study.kind}-{study.name}")[:80].rstrip("-.")
    return f"{name}-trials.csv", study_frame(store, study_id).to_csv(index=False)
