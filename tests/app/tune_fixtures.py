"""Searches written straight into a store, in known states, for the Tune page's tests."""

from __future__ import annotations

from core.spec.config import RunConfig
from core.store import Status, Store
from core.store import searches as search_store
from core.worker.searches import SearchSettings, SearchSpace, launch_search

SPACE = [
    {"key": "learning_rate", "kind": "float", "low": 1e-4, "high": 1e-2, "log": True},
    {"key": "dropout", "kind": "float", "low": 0.1, "high": 0.5, "step": 0.1},
    {"key": "optimizer", "kind": "choice", "values": ["adam", "rmsprop"]},
]
# (learning rate, dropout, optimizer, val_accuracy per epoch)
TRIALS = [
    (1e-3, 0.1, "adam", [0.50, 0.70]),
    (1e-2, 0.3, "rmsprop", [0.40, 0.55]),
    (3e-4, 0.2, "adam", [0.60, 0.90]),
    (1e-4, 0.5, "rmsprop", [0.20, 0.30]),
    (5e-3, 0.4, "adam", [0.45, 0.60]),
]


def write_search(
    store: Store, state: str = "done", running: int = 0, budget_s: float | None = None
) -> tuple[int, list[int], int]:
    """A random search whose trials ended as ``TRIALS`` say, and its finished baseline.

    Args:
        store: The store to write to.
        state: The search's state at the end.
        running: How many of the last trials are left running (no results yet).
        budget_s: The search's time budget.

    Returns:
        The search's study id, its trial ids and the baseline trial id.
    """
    base = RunConfig(model="mlp", epochs=2)
    settings = SearchSettings(tuner="random", max_trials=6, time_budget_s=budget_s)
    study = launch_search(store, base, SearchSpace.from_list(SPACE), settings)
    baseline = store.claim_next(pid=1)
    assert baseline is not None
    store.add_epoch(baseline.id, 0, {"val_accuracy": 0.5, "val_loss": 1.0}, 1.0)
    store.finish_trial(
        baseline.id, Status.COMPLETED, results={"test_accuracy": 0.48, "test_loss": 1.1}
    )
    ids = []
    for i, (lr, dropout, optimizer, curve) in enumerate(TRIALS):
        cfg = base.replace(learning_rate=lr, dropout=dropout, optimizer=optimizer)
        tid = search_store.start_trial(store, study, f"t{i}", cfg, pid=1, worker="host:1")
        for epoch, acc in enumerate(curve):
            store.add_epoch(tid, epoch, {"val_accuracy": acc, "val_loss": 1 - acc}, 0.5)
        if i < len(TRIALS) - running:
            hp = {"learning_rate": lr, "dropout": dropout, "optimizer": optimizer}
            store.finish_trial(tid, Status.COMPLETED, results={"hp": hp, "objective": max(curve)})
        ids.append(tid)
    search_store.set_state(store, study, state, {"used_s": 30.0})
    return study, ids, baseline.id


def write_stopped_hyperband(
    store: Store, trials: int = 11, best: float = 0.60, baseline: float = 0.975
) -> tuple[int, list[int], int]:
    """A Hyperband search of a 10-epoch schedule stopped after ``trials`` of its 30 trials.

    Every trial ran is one of the first round's 2-epoch trials; the best scored ``best`` and
    was kept (ranked first, tested). The untuned baseline trained all 10 epochs and reached
    ``baseline``.

    Returns:
        The search's study id, its trial ids and the baseline trial id.
    """
    base = RunConfig(model="mlp", epochs=10)
    settings = SearchSettings(tuner="hyperband", max_epochs=10, factor=3)
    study = launch_search(store, base, SearchSpace.from_list(SPACE), settings)
    run = store.claim_next(pid=1)
    assert run is not None
    for epoch in range(10):
        accuracy = baseline - 0.05 * (9 - epoch) / 9
        store.add_epoch(run.id, epoch, {"val_accuracy": accuracy, "val_loss": 1 - accuracy}, 1.0)
    store.finish_trial(run.id, Status.COMPLETED, results={"test_accuracy": 0.97, "test_loss": 0.1})
    ids = []
    for i in range(trials):
        lr, dropout = 10 ** (-4 + 2 * i / trials), 0.1 + 0.1 * (i % 5)
        optimizer = ("adam", "rmsprop")[i % 2]
        score = best if i == trials // 2 else best - 0.02 - 0.03 * (i % 4)
        cfg = base.replace(learning_rate=lr, dropout=dropout, optimizer=optimizer, epochs=2)
        tid = search_store.start_trial(store, study, f"{i:04d}", cfg, pid=1, worker="host:1")
        for epoch, acc in enumerate([score - 0.1, score]):
            store.add_epoch(tid, epoch, {"val_accuracy": acc, "val_loss": 1 - acc}, 0.5)
        results = {
            "hp": {"learning_rate": lr, "dropout": dropout, "optimizer": optimizer},
            "objective": score,
            "bracket": 2,
            "round": 0,
        }
        if score == best:
            results.update(rank=1, kept=True, test_accuracy=best - 0.02, test_loss=1.2)
        store.finish_trial(tid, Status.COMPLETED, results=results)
        ids.append(tid)
    search_store.set_state(store, study, "cancelled", {"used_s": 60.0})
    return study, ids, run.id
