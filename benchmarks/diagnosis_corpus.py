"""Train the labelled corpus of real learning curves that the diagnosis is checked against.

Every run trains on the embedded digits dataset through the command line's own trial path
(``core.cli.train.train_one``: the store, a ``TrialMonitor``, ``core.engine.training.run_trial``),
in one process and a temporary cache (``HPE_CACHE_DIR``). Each run is made with a known cause:

* ``healthy``: default Adam 1e-3 on the MLP and the CNN over several seeds (one MLP for 40
  epochs), a 3-fold CNN, plain SGD at a rate that still works, and two forks that continue a
  healthy run at a ten times lower rate (a fork's epochs are its own: they start after the
  epoch it was forked from);
* ``lr_too_high``: SGD, Adam, Nadam and RMSprop at rates of 0.3 to 10;
* ``diverged``: the same cause pushed further (SGD at 3 to 50 on the CNN) until the loss
  becomes NaN. The engine, not the diagnosis, says which runs diverged (it ends them so); one
  meant to diverge that does not is kept as ``lr_too_high``;
* ``lr_too_low``: rates of 1e-6 to 1e-4;
* ``overfitting``: large MLPs without dropout at Adam 5e-3 to 1e-2, trained on a tenth of the
  training images (``validation_split=0.9``) for 30 to 40 epochs;
* ``plateau``: a step or exponential schedule that cuts the rate a hundredfold after a few
  epochs, so training stops improving early;
* ``underfitting``: heavy L2 or dropout that keeps the model from fitting its training data.

Each run's per-epoch metrics are read back from the store (``Store.epochs``) and written, rounded
to 5 significant digits, to ``tests/analysis/data/diagnosis_corpus.json``: one entry per run with
its class, the findings it should get (``labels``: none for a healthy run), the settings that
differ from the defaults, and its epochs. ``tests/analysis/test_diagnosis_corpus.py`` and
``benchmarks/diagnosis_table.py`` read that file; nothing is trained there.

    python benchmarks/diagnosis_corpus.py            # 6-11 minutes on 2 CPU cores
    python benchmarks/diagnosis_corpus.py --out /tmp/corpus.json
    python benchmarks/diagnosis_corpus.py --only mlp-fork-lr-1e-4 --out /tmp/fork.json

Training is reproducible: a second run writes the same epochs. ``--only`` trains the named
runs (and the runs they fork) into a file of their own.

The last line is one JSON object (runs per class, seconds, file size).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import _common as common  # noqa: E402

OUT = common.ROOT / "tests" / "analysis" / "data" / "diagnosis_corpus.json"
# The metrics the diagnosis reads; the rest (f1, top-5) are left out to keep the file small.
KEPT = ("loss", "val_loss", "accuracy", "val_accuracy", "learning_rate")
MLP = {"model": "mlp"}
CNN = {"model": "cnn"}
# A large MLP without dropout on a tenth of the training images: it learns them by heart.
BIG = {**MLP, "dropout": 0.0, "validation_split": 0.9, "epochs": 40}
# A step schedule that cuts the rate a hundredfold after a few epochs.
KILL = {"lr_schedule": "step", "lr_decay_rate": 0.01}

# (name, class, settings); a fork is (name, class, {"fork_of": name, "after": epoch, ...}).
CASES: list[tuple[str, str, dict[str, Any]]] = [
    *[(f"mlp-default-s{s}", "healthy", {**MLP, "epochs": 20, "seed": s}) for s in range(4)],
    *[(f"cnn-default-s{s}", "healthy", {**CNN, "epochs": 15, "seed": s}) for s in range(2)],
    ("mlp-default-40", "healthy", {**MLP, "epochs": 40, "seed": 8}),
    ("cnn-3fold", "healthy", {**CNN, "epochs": 10, "folds": 3}),
    ("mlp-sgd-1", "healthy", {**MLP, "epochs": 20, "optimizer": "sgd", "learning_rate": 1.0}),
    ("mlp-parent", "healthy", {**MLP, "epochs": 25, "seed": 7}),
    ("mlp-fork-lr-1e-4", "healthy", {"fork_of": "mlp-parent", "after": 10, "learning_rate": 1e-4}),
    (
        "cnn-fork-lr-1e-4",
        "healthy",
        {"fork_of": "cnn-default-s0", "after": 8, "learning_rate": 1e-4, "epochs": 20},
    ),
    ("mlp-sgd-5", "lr_too_high", {**MLP, "epochs": 20, "optimizer": "sgd", "learning_rate": 5.0}),
    ("mlp-sgd-10", "lr_too_high", {**MLP, "epochs": 20, "optimizer": "sgd", "learning_rate": 10.0}),
    (
        "mlp-sgd-3-momentum",
        "lr_too_high",
        {**MLP, "epochs": 20, "optimizer": "sgd", "learning_rate": 3.0, "momentum": 0.9},
    ),
    ("mlp-adam-1", "lr_too_high", {**MLP, "epochs": 20, "learning_rate": 1.0}),
    ("mlp-adam-1-s2", "lr_too_high", {**MLP, "epochs": 20, "learning_rate": 1.0, "seed": 2}),
    ("mlp-adam-3", "lr_too_high", {**MLP, "epochs": 20, "learning_rate": 3.0, "seed": 1}),
    ("mlp-adam-0.3", "lr_too_high", {**MLP, "epochs": 20, "learning_rate": 0.3}),
    (
        "mlp-nadam-1",
        "lr_too_high",
        {**MLP, "epochs": 20, "optimizer": "nadam", "learning_rate": 1.0},
    ),
    (
        "mlp-rmsprop-0.5",
        "lr_too_high",
        {**MLP, "epochs": 20, "optimizer": "rmsprop", "learning_rate": 0.5},
    ),
    ("cnn-adam-1", "lr_too_high", {**CNN, "epochs": 15, "learning_rate": 1.0}),
    ("cnn-sgd-5", "diverged", {**CNN, "epochs": 15, "optimizer": "sgd", "learning_rate": 5.0}),
    (
        "cnn-sgd-5-s1",
        "diverged",
        {**CNN, "epochs": 15, "optimizer": "sgd", "learning_rate": 5.0, "seed": 1},
    ),
    ("cnn-sgd-10", "diverged", {**CNN, "epochs": 15, "optimizer": "sgd", "learning_rate": 10.0}),
    (
        "cnn-sgd-3-momentum",
        "diverged",
        {**CNN, "epochs": 15, "optimizer": "sgd", "learning_rate": 3.0, "momentum": 0.9},
    ),
    (
        "cnn-sgd-20-s2",
        "diverged",
        {**CNN, "epochs": 15, "optimizer": "sgd", "learning_rate": 20.0, "seed": 2},
    ),
    *[
        (
            f"cnn-sgd-5-s{s}",
            "diverged",
            {**CNN, "epochs": 15, "optimizer": "sgd", "learning_rate": 5.0, "seed": s},
        )
        for s in (2, 3)
    ],
    *[
        (
            f"cnn-sgd-20-s{s}",
            "diverged",
            {**CNN, "epochs": 15, "optimizer": "sgd", "learning_rate": 20.0, "seed": s},
        )
        for s in (0, 1)
    ],
    ("cnn-sgd-50", "diverged", {**CNN, "epochs": 15, "optimizer": "sgd", "learning_rate": 50.0}),
    *[
        (
            f"mlp-adam-1e-6-s{s}",
            "lr_too_low",
            {**MLP, "epochs": 20, "learning_rate": 1e-6, "seed": s},
        )
        for s in range(3)
    ],
    (
        "mlp-adam-1e-6-wide",
        "lr_too_low",
        {**MLP, "epochs": 20, "learning_rate": 1e-6, "dense_units": 512, "seed": 3},
    ),
    (
        "mlp-sgd-1e-4",
        "lr_too_low",
        {**MLP, "epochs": 15, "optimizer": "sgd", "learning_rate": 1e-4},
    ),
    (
        "mlp-rmsprop-1e-6",
        "lr_too_low",
        {**MLP, "epochs": 15, "optimizer": "rmsprop", "learning_rate": 1e-6, "seed": 4},
    ),
    ("cnn-adam-1e-6", "lr_too_low", {**CNN, "epochs": 12, "learning_rate": 1e-6}),
    (
        "cnn-sgd-1e-5",
        "lr_too_low",
        {**CNN, "epochs": 12, "optimizer": "sgd", "learning_rate": 1e-5, "seed": 1},
    ),
    *[
        (
            f"mlp-512x2-adam-1e-2-s{s}",
            "overfitting",
            {**BIG, "dense_units": 512, "dense_layers": 2, "learning_rate": 0.01, "seed": s},
        )
        for s in range(4)
    ],
    *[
        (
            f"mlp-1024x2-adam-1e-2-s{s}",
            "overfitting",
            {**BIG, "dense_units": 1024, "dense_layers": 2, "learning_rate": 0.01, "seed": s},
        )
        for s in range(2)
    ],
    (
        "mlp-512x3-adam-1e-2",
        "overfitting",
        {**BIG, "dense_units": 512, "dense_layers": 3, "learning_rate": 0.01},
    ),
    (
        "mlp-256x3-adam-5e-3",
        "overfitting",
        {**BIG, "dense_units": 256, "dense_layers": 3, "learning_rate": 0.005},
    ),
    (
        "mlp-1024x2-adam-3e-3-b16",
        "overfitting",
        {
            **BIG,
            "dense_units": 1024,
            "dense_layers": 2,
            "learning_rate": 0.003,
            "batch_size": 16,
            "epochs": 30,
        },
    ),
    ("mlp-step-3", "plateau", {**MLP, **KILL, "epochs": 30, "lr_decay_steps": 3}),
    ("mlp-step-4-s1", "plateau", {**MLP, **KILL, "epochs": 30, "lr_decay_steps": 4, "seed": 1}),
    ("mlp-step-6-s4", "plateau", {**MLP, **KILL, "epochs": 30, "lr_decay_steps": 6, "seed": 4}),
    (
        "mlp-step-5-s2",
        "plateau",
        {**MLP, **KILL, "epochs": 25, "lr_decay_steps": 5, "lr_decay_rate": 0.001, "seed": 2},
    ),
    (
        "mlp-step-3-lr-3e-3",
        "plateau",
        {**MLP, **KILL, "epochs": 25, "lr_decay_steps": 3, "learning_rate": 0.003, "seed": 3},
    ),
    (
        "mlp-wide-step-3",
        "plateau",
        {**MLP, **KILL, "epochs": 25, "lr_decay_steps": 3, "dense_units": 512, "seed": 5},
    ),
    (
        "mlp-exponential",
        "plateau",
        {
            **MLP,
            "epochs": 25,
            "lr_schedule": "exponential",
            "lr_decay_rate": 0.01,
            "lr_decay_steps": 2,
            "learning_rate": 0.003,
        },
    ),
    ("cnn-step-3", "plateau", {**CNN, **KILL, "epochs": 20, "lr_decay_steps": 3}),
    ("cnn-step-4-s1", "plateau", {**CNN, **KILL, "epochs": 20, "lr_decay_steps": 4, "seed": 1}),
    ("mlp-l2-0.1", "underfitting", {**MLP, "epochs": 20, "l2": 0.1}),
    ("mlp-l2-0.15-s4", "underfitting", {**MLP, "epochs": 20, "l2": 0.15, "seed": 4}),
    ("mlp-l2-0.2-s1", "underfitting", {**MLP, "epochs": 20, "l2": 0.2, "seed": 1}),
    ("mlp-l2-0.3-s3", "underfitting", {**MLP, "epochs": 20, "l2": 0.3, "seed": 3}),
    (
        "mlp-wide-l2-0.1-s2",
        "underfitting",
        {**MLP, "epochs": 20, "l2": 0.1, "dense_units": 512, "seed": 2},
    ),
    (
        "mlp-dropout-0.9-16",
        "underfitting",
        {**MLP, "epochs": 20, "dropout": 0.9, "dense_units": 16, "learning_rate": 0.01},
    ),
    (
        "mlp-dropout-0.9-32-s1",
        "underfitting",
        {**MLP, "epochs": 20, "dropout": 0.9, "dense_units": 32, "learning_rate": 0.01, "seed": 1},
    ),
    (
        "mlp-dropout-0.95-64-s2",
        "underfitting",
        {**MLP, "epochs": 20, "dropout": 0.95, "dense_units": 64, "learning_rate": 0.01, "seed": 2},
    ),
]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUT, help=f"default: {OUT}")
    parser.add_argument(
        "--only", nargs="+", metavar="NAME", help="train only these runs (and what they fork)"
    )
    args = parser.parse_args()
    if args.only and args.out == OUT:
        parser.error("--only writes part of the corpus: give it an --out of its own")
    root = common.temp_cache("diagnosis-corpus")
    started = time.perf_counter()
    try:
        entries = _train_all(root, _selected(args.only))
    finally:
        common.remove_cache(root)
    seconds = time.perf_counter() - started
    args.out.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps({"version": 1, "dataset": "digits", "runs": entries}, separators=(",", ":"))
    args.out.write_text(text + "\n")
    counts: dict[str, int] = {}
    for entry in entries:
        counts[entry["class"]] = counts.get(entry["class"], 0) + 1
    print(common.table(["class", "runs"], sorted(counts.items())))
    common.emit(
        {
            "benchmark": "diagnosis_corpus",
            "runs": len(entries),
            "classes": counts,
            "seconds": round(seconds, 1),
            "bytes": len(text) + 1,
            "out": str(args.out),
            "cpus": os.cpu_count(),
        }
    )
    return 0


def _selected(names: list[str] | None) -> list[tuple[str, str, dict[str, Any]]]:
    """The cases to train: all, or the named ones and the runs they fork, in corpus order."""
    if not names:
        return CASES
    wanted = set(names)
    known = {name for name, _, _ in CASES}
    if wanted - known:
        raise SystemExit(f"unknown runs: {', '.join(sorted(wanted - known))}")
    wanted |= {s["fork_of"] for name, _, s in CASES if name in wanted and "fork_of" in s}
    return [case for case in CASES if case[0] in wanted]


def _train_all(root: Path, cases: list[tuple[str, str, dict[str, Any]]]) -> list[dict[str, Any]]:
    from core.cli.train import train_one
    from core.spec.config import RunConfig
    from core.spec.plan import plan_run
    from core.store import Status, Store, paths
    from core.worker import forks as fork

    store = Store(paths.store_path(root))
    parents = {settings["fork_of"] for _, _, settings in cases if "fork_of" in settings}
    trained: dict[str, int] = {}
    entries: list[dict[str, Any]] = []
    for name, cause, settings in cases:
        # Only the runs a fork continues keep checkpoints: the rest train a little faster.
        os.environ["HPE_CHECKPOINT_CAP"] = "50" if name in parents else "0"
        start = time.perf_counter()
        if "fork_of" in settings:
            changes = {k: v for k, v in settings.items() if k not in ("fork_of", "after")}
            plan = fork.plan_fork(
                store, trained[settings["fork_of"]], settings["after"], changes, root
            )
            _, trial_id = fork.queue_fork(store, plan, reserve_for=os.getpid())
            trial_ids = [trial_id]
        else:
            cfg = RunConfig(**settings)
            plan = plan_run(cfg, name)
            _, trial_ids = store.create_study(
                plan.name, plan.kind, plan.configs, reserve_for=os.getpid()
            )
        for trial_id in trial_ids:
            trial = store.trial(trial_id)
            status = train_one(store, trial_id, root, trial.run_config.epochs)
            trial = store.trial(trial_id)
            entry = _entry(name, cause, settings, trial, store.epochs(trial_id), status)
            if trial.run_config.folds > 1:
                entry["name"] = f"{name}-fold{trial.number}"
            entries.append(entry)
            trained.setdefault(name, trial_id)
            last = entry["epochs"][-1] if entry["epochs"] else {}
            print(
                f"{entry['name']:28s} {entry['class']:12s} {status!s:9s} "
                f"{len(entry['epochs']):3d} epochs  val_accuracy {last.get('val_accuracy')}  "
                f"({time.perf_counter() - start:.1f}s)",
                flush=True,
            )
            if status == Status.FAILED:
                raise RuntimeError(f"{name} failed: {trial.error}")
    os.environ.pop("HPE_CHECKPOINT_CAP", None)
    return entries


def _entry(
    name: str, cause: str, settings: dict[str, Any], trial: Any, epochs: list, status: Any
) -> dict[str, Any]:
    from core.spec.config import RunConfig
    from core.store import Status

    # The engine, not the diagnosis, says whether a run diverged (its loss became NaN).
    kind = "diverged" if status == Status.DIVERGED else cause
    if cause == "diverged" and status != Status.DIVERGED:
        kind = "lr_too_high"  # meant to diverge, but only bounced or got stuck
    defaults = RunConfig().to_dict()
    config = {k: v for k, v in trial.config.items() if defaults.get(k) != v}
    entry: dict[str, Any] = {
        "name": name,
        "class": kind,
        "labels": [] if kind == "healthy" else [kind],
        "config": config,
        "status": str(status),
        "test_accuracy": _round(trial.test_accuracy),
    }
    if "fork_of" in settings:
        entry["fork"] = {"of": settings["fork_of"], "after_epoch": settings["after"]}
    entry["epochs"] = [
        {"epoch": e.epoch, **{k: _round(e.metrics[k]) for k in KEPT if k in e.metrics}}
        for e in epochs
    ]
    return entry


def _round(value: float | None) -> float | None:
    """5 significant digits. NaN and infinities stay (``json`` writes and reads them back)."""
    if value is None or not math.isfinite(value):
        return value
    return float(f"{float(value):.5g}")


if __name__ == "__main__":
    sys.exit(main())
