"""The end of a search: test and save the best trials, and free the rest's weights.

keras-tuner keeps each finished trial's best-epoch weights in its project folder while the
search runs (Hyperband trains some of them further). When the search ends, the ``keep_top``
best trials by the objective are tested on the test split and saved like any run
(``model.keras``, ``model.weights.h5``, ``config.json`` under ``cache/runs/<study>/<trial>/``);
their store trials get ``kept: true``, ``rank`` and the test metrics. Once a search is done,
the other trials' weights and every per-epoch backup are deleted. A trial that a tuner on
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

from core.data import fingerprint
from core.engine import compat, optim
from core.engine.models import summary_rows
from core.spec.search_space import SearchSettings
from core.store import Store, paths
from core.store import searches as search_store


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
    if delete_rest:
        shutil.rmtree(Path(tuner.project_dir) / "backup", ignore_errors=True)
    return kept


def _save(store: Store, study_id: int, trial_id: int, tuner: Any, trial: Any) -> None:
    """Test one trial's best weights and save its model, weights and config."""
    hypermodel = tuner.hypermodel
    cfg = hypermodel.config(trial.hyperparameters)
    with warnings.catch_warnings():
        # The best-epoch file also holds optimizer state, which a model to test does not need.
        warnings.filterwarnings("ignore", message="Skipping variable loading for optimizer")
        model = tuner.load_model(trial)
    test = hypermodel.data(cfg, "test", 256)
    scores = model.evaluate(test, verbose=0, return_dict=True)
    folder = paths.runs_dir(hypermodel.root) / str(study_id) / str(trial_id)
    folder.mkdir(parents=True, exist_ok=True)
    artifacts = {
        "model": str(folder / "model.keras"),
        "weights": str(folder / "model.weights.h5"),
        "config": str(folder / "config.json"),
    }
    splits = hypermodel.splits(cfg)
    optim.compile_for_export(model, cfg, splits.num_classes)
    model.save(artifacts["model"])
    model.save_weights(artifacts["weights"])
    key = (cfg.dataset, cfg.validation_split, cfg.seed, cfg.img_size, None)
    origin = fingerprint.provenance(
        cfg, fingerprint.data_fingerprint(splits, key), study=study_id, trial=trial_id
    )
    Path(artifacts["config"]).write_text(fingerprint.config_document(cfg, origin))
    search_store.set_results(
        store,
        trial_id,
        {
            "test_loss": float(scores["loss"]),
            "test_accuracy": float(scores["accuracy"]),
            **{f"test_{n}": float(scores[n]) for n in ("f1", "top5") if n in scores},
            "params": int(model.count_params()),
            "summary": summary_rows(model),
            "artifacts": artifacts,
        },
    )
