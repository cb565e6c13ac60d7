"""``python -m core runs`` and ``python -m core export``: every run, and one run's files.

    python -m core runs [--json]
    python -m core export TRIAL --out DIR

``runs`` prints one row per trial of every study (``core.views.runs.runs_frame``), with the
epochs planned and those done, and the test accuracy with its 95% interval and test images;
with ``--json`` it prints one JSON line, ``{"rows": [...]}`` (:func:`run_rows`), each row also
with ``checkpoint_bytes``, what the run's checkpoints take on disk.
``export`` writes a trial's bundle into DIR (``core.handover.bundle``): its model, weights and
config, a standalone ``train.py`` and its TensorBoard logs, under names that say which run they
are (study, trial, dataset, model and test accuracy), and prints the new paths. An unknown
trial prints one line and exits with status 2; a trial without saved files exits with status 1.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path
from typing import Any

import pandas as pd

from core.cli.args import EXIT_FAILED, EXIT_OK, EXIT_USAGE, json_flag, print_error
from core.handover.bundle import write_bundle
from core.spec.formats import MISSING, loss, number, percent
from core.spec.quoting import printable
from core.store import Store, open_store
from core.store.checkpoint_files import checkpoint_bytes, checkpoint_dir
from core.views.runs import interval_labels, runs_frame

_TABLE = {
    "trial": "trial",
    "study": "study",
    "study_name": "name",
    "kind": "kind",
    "number": "#",
    "dataset": "dataset",
    "model": "model",
    "optimizer": "optimizer",
    "learning_rate": "lr",
    "batch_size": "batch",
    "epochs": "epochs",
    "epochs_run": "done",
    "status": "status",
    "best_val_accuracy": "best_val_acc",
    "test_accuracy": "test_acc",
    "test_ci": "test_ci",
    "test_images": "test_n",
    "test_loss": "test_loss",
    "duration_s": "seconds",
    "worker": "worker",
}


def add_run_commands(sub: Any) -> None:
    """Add the ``runs`` and ``export`` commands to the sub-parsers of ``python -m core``."""
    runs = sub.add_parser("runs", parents=[json_flag()], help="list every recorded run")
    runs.set_defaults(run=_runs)
    export = sub.add_parser(
        "export", help="write one run's model, weights, config, train.py and logs"
    )
    export.add_argument("trial", type=int, help="the run (trial) id, as `runs` lists it")
    export.add_argument("--out", required=True, help="folder to copy the files into")
    export.set_defaults(run=_export)


def _store() -> Store:
    return open_store()


def json_rows(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """The rows of a table as plain JSON-ready dicts (missing values become None)."""
    return [
        {key: _plain(value) for key, value in row.items()}
        for row in frame.to_dict(orient="records")
    ]


def _plain(value: Any) -> Any:
    if hasattr(value, "item"):  # numpy scalars
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def run_rows(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """The rows of ``runs --json``: the runs table, the test interval as one ``[low, high]``.

    Each row has ``test_accuracy``, ``test_images`` and ``test_accuracy_ci`` (None where the
    run was not tested or its image count is unknown).
    """
    rows = json_rows(frame)
    for row in rows:
        low, high = row.pop("test_ci_low"), row.pop("test_ci_high")
        row["test_accuracy_ci"] = None if low is None or high is None else [low, high]
        if row["test_images"] is not None:
            row["test_images"] = int(row["test_images"])
    return rows


def _runs(args: argparse.Namespace) -> int:
    store = _store()
    frame = runs_frame(store)
    if args.json:
        rows = run_rows(frame)
        trials = {t.id: t for t in store.trials()}
        for row in rows:  # what its checkpoints take on disk now (the budget prunes them)
            trial = trials.get(row["trial"])  # None: deleted since the table was read
            row["checkpoint_bytes"] = checkpoint_bytes(checkpoint_dir(trial)) if trial else 0
        print(json.dumps({"rows": rows}))
        return EXIT_OK
    if frame.empty:
        print("No runs yet. Train one with: python -m core train")
        return EXIT_OK
    frame = frame.assign(test_ci=interval_labels(frame).replace("", None))
    table = frame[list(_TABLE)].rename(columns=_TABLE)
    for column in table.select_dtypes(exclude="number"):  # names, datasets: what people typed
        table[column] = table[column].map(lambda v: printable(v) if isinstance(v, str) else v)
    names = table["name"].map(lambda s: s if len(s) <= 32 else s[:31] + "…")
    table["name"] = names.str.ljust(int(names.str.len().max()))  # text reads left to right
    print(
        table.to_string(
            index=False,
            na_rep=MISSING,
            justify="left",
            formatters={
                "best_val_acc": percent,
                "test_acc": percent,
                "test_n": lambda v: MISSING if pd.isna(v) else f"{int(v)}",
                "test_loss": loss,
                "seconds": lambda v: MISSING if pd.isna(v) else f"{v:.1f}",
                "lr": number,
            },
        )
    )
    return EXIT_OK


def export_trial(store: Store, trial_id: int, out: Path, root: Path | None = None) -> list[Path]:
    """Write a trial's bundle into ``out`` (``core.handover.bundle.write_bundle``); return paths.

    Raises:
        KeyError: if there is no such trial.
        FileNotFoundError: if the trial has no saved files (it did not complete).
    """
    return write_bundle(store, trial_id, out, root)


def _export(args: argparse.Namespace) -> int:
    try:
        copies = export_trial(_store(), args.trial, Path(args.out))
    except KeyError:
        print_error(f"there is no run {args.trial} (see python -m core runs)")
        return EXIT_USAGE
    except (OSError, ValueError) as exc:  # no saved files, or its dataset folder is gone
        print_error(exc)
        return EXIT_FAILED
    for path in copies:
        print(printable(str(path.resolve())))
    return EXIT_OK
