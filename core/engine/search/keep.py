"""The end of a search: test and save the best trials, and free the rest's weights.

keras-tuner keeps each finished trial's best-epoch weights in its project folder while the
search runs (Hyperband trains some of them further). When the search ends, the ``keep_top``
best trials by the objective are tested on the test split and saved like any run, by the same
saver (``core.engine.executor.save_results``: ``model.keras``, ``model.weights.h5``,
``config.json``, per-class results and the misclassified grid under
``cache/runs/<study>/<trial>/``); their store trials get ``kept: true``, ``rank`` and the test
metrics. Once a search is done, the other trials' weights and per-epoch checkpoints are
deleted; the kept trials keep theirs, so they can be forked like any run. A trial that a tuner on
another machine trained has its weights in that machine's project folder, not here (unless
the folders are shared, as keras-tuner assumes): it gets its ``rank`` and ``weights_on`` (the
tuner that has them) instead, and the next trials are kept as usual. This module imports
TensorFlow; only worker processes use it.
"""

from __future__ import annotations

import shutil
import warnings
from pathlib import Path
from typing import Any

from core.engine import compat, run_logs
from core.engine.executor import save_results
from core.spec.search_space import SearchSettings
from core.store import Store, paths
from core.store import searches as search_store
from core.store.checkpoint_files import checkpoint_dir


def keep_best(
    store: Store, study_id: int, tuner: Any, settings: SearchSettings, delete_rest: bool
) -> list[int]:
    """Test and save the best trials; with ``delete_rest``, delete everyone else's weights.

    Returns:
        The store ids of the kept trials, best first.
    """
    ids = {
        k: int(v) for k, v in search_store.read(store, study_id).progress.get("trials", {}).items()
    }
    hypermodel_root = tuner.hypermodel.root
    best = [t for t in tuner.oracle.get_best_trials(settings.keep_top) if t.trial_id in ids]
    kept: list[int] = []
    for rank, trial in enumerate(best, start=1):
        trial_id = ids[trial.trial_id]
        if not compat.checkpoint_path(tuner, trial.trial_id).is_file():
            worker = store.trial(trial_id).worker
            search_store.set_results(store, trial_id, {"rank": rank, "weights_on": worker})
            continue
        current = store.trial(trial_id).results
        if not (
            current.get("kept")
            and current.get("best_step") == trial.best_step
            and Path(current.get("artifacts", {}).get("model", "")).exists()
        ):
            _save(store, study_id, trial_id, tuner, trial)
        search_store.set_results(store, trial_id, {"kept": True, "rank": rank})
        kept.append(trial_id)
    ranked = {ids[t.trial_id] for t in best}
    for tuner_trial_id, trial_id in ids.items():
        if trial_id in ranked:
            continue
        earlier = store.trial(trial_id).results
        if earlier.get("kept") or earlier.get("rank") is not None:
            search_store.set_results(store, trial_id, {"kept": False, "rank": None})
        if delete_rest:
            folder = Path(tuner.get_trial_dir(tuner_trial_id))
            for weights in folder.glob("*.weights.h5"):
                weights.unlink()
    if delete_rest:  # a search that is done: only the kept trials keep their checkpoints
        for trial_id in set(ids.values()) - set(kept):
            shutil.rmtree(
                checkpoint_dir(store.trial(trial_id), hypermodel_root), ignore_errors=True
            )
    return kept


def _save(store: Store, study_id: int, trial_id: int, tuner: Any, trial: Any) -> None:
    """Test one trial's best weights and save them as any run is saved (``save_results``)."""
    hypermodel = tuner.hypermodel
    cfg = hypermodel.config(trial.hyperparameters)
    hypermodel.execution = 0  # built as the trial's first execution, then its best weights load
    with warnings.catch_warnings():
        # The best-epoch file also holds optimizer state, which a model to test does not need.
        warnings.filterwarnings("ignore", message="Skipping variable loading for optimizer")
        model = tuner.load_model(trial)
    folder = paths.runs_dir(hypermodel.root) / str(study_id) / str(trial_id)
    splits, key = hypermodel.splits(cfg), hypermodel.data_key(cfg)
    results = save_results(model, cfg, splits, folder, key, study=study_id, trial=trial_id)
    logs = run_logs.log_dir(store.trial(trial_id), hypermodel.root)
    if logs.is_dir():
        results["artifacts"]["logs"] = str(logs)
    search_store.set_results(store, trial_id, results)
