"""A finished trial's scores as the app states them, each with its images and 95% interval.

The engine records each score with its image count and interval when it evaluates a model
(``core.engine.executor.scores``). Runs recorded before then have their accuracy and split
sizes: the Wilson interval is worked out from those (``core.spec.scores.accuracy_score``),
and where the image count is unknown too, the score stands without one.
"""

from __future__ import annotations

from collections.abc import Sequence

from core.spec.scores import Score, accuracy_score
from core.store import Epoch, Trial


def accuracy_on_test(trial: Trial) -> Score | None:
    """The trial's test accuracy, its test images and interval; None if it was not tested."""
    if trial.test_accuracy is None:
        return None
    results = trial.results
    images = results.get("test_images") or (results.get("sizes") or {}).get("test")
    return accuracy_score(trial.test_accuracy, images, results.get("test_accuracy_ci"))


def accuracy_on_validation(trial: Trial, epochs: Sequence[Epoch] | None = None) -> Score | None:
    """The validation accuracy of the model the trial kept, with its images and interval.

    Recorded when the trial was tested. For a run recorded before that, given its
    ``epochs``: the ``val_accuracy`` of the epoch whose weights it kept (the best epoch with
    early stopping, which restores it; else the last). None without either.
    """
    results = trial.results
    images = results.get("val_images") or (results.get("sizes") or {}).get("validation")
    if results.get("val_accuracy") is not None:
        return accuracy_score(results["val_accuracy"], images, results.get("val_accuracy_ci"))
    kept = _kept_epoch(trial, epochs or ())
    if kept is None or "val_accuracy" not in kept.metrics:
        return None
    return accuracy_score(kept.metrics["val_accuracy"], images)


def macro_f1_of(trial: Trial) -> Score | None:
    """Macro F1 over the images the per-class results were scored on, with its interval."""
    classes = trial.results.get("classes") or {}
    macro = classes.get("macro") or {}
    if macro.get("f1") is None:
        return None
    images = classes.get("images") or sum(classes.get("support") or ()) or None
    ci = macro.get("f1_ci")
    return Score(float(macro["f1"]), images, *(ci if ci and len(ci) == 2 else (None, None)))


def _kept_epoch(trial: Trial, epochs: Sequence[Epoch]) -> Epoch | None:
    if not epochs:
        return None
    best = trial.results.get("best_epoch")
    if trial.config.get("early_stopping_patience") and best is not None:
        for epoch in epochs:
            if epoch.epoch == best:
                return epoch
    return epochs[-1]
