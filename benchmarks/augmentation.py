"""Training throughput with augmentation in the app's tf.data pipeline, against two baselines.

What is compared, all in this one process, on CIFAR-10-shaped synthetic uint8 data (default 10,000
images 32×32×3, 10 balanced classes), with report 000's CNN (``RunConfig(model="cnn")`` defaults
built by ``core.engine.models.build_model``, compiled by ``core.engine.optim.compile_model``: Adam,
sparse cross-entropy, accuracy/F1/top-5), batch size 64, seeded and with TensorFlow op determinism
on, exactly as ``core.engine.training`` prepares a run:

* **aug**: ``core.engine.pipeline.make_dataset(..., augment=("flip", "rotation:15",
  "translation:0.1"), training=True)``, report 002's augmentation as Keras preprocessing
  layers inside the ``tf.data`` pipeline as training lays out an epoch (random draws in
  order, pixel work in a parallel map, rotation and translation resampled once), shuffled
  and prefetched;
* **plain**: the same pipeline without augmentation (shuffle, batch, prefetch);
* **legacy**: report 002's way, Keras's legacy ``ImageDataGenerator(rotation_range=15,
  width_shift_range=0.1, height_shift_range=0.1, horizontal_flip=True).flow(x, y,
  batch_size=64)`` fed to ``fit``. Keras 3.15 keeps the class in
  ``keras.src.legacy.preprocessing.image`` and exports it only through the ``tf.keras``
  namespace (``tf.keras.preprocessing.image.ImageDataGenerator``), which is used here.

Each variant gets its own model and data, built once; a first epoch of each (tracing, shuffle
buffer) is not timed. Then come R rounds; in each, every variant trains one more epoch
(``fit(epochs=1)``, which reuses the traced step), in an order that rotates from round to
round (aug-plain-legacy, plain-legacy-aug, ...), so that other work on a shared machine
slows every variant alike. A callback records each epoch's wall time (``on_epoch_begin`` to
``on_epoch_end``, no validation) and the CPU time of this process, all threads. Reported: the
median throughput (images ÷ epoch seconds) of each variant, the ratios aug ÷ plain (goal ≥
0.85: augmentation costs at most 15 % of training speed) and aug ÷ legacy (goal ≥ 1.0:
faster than report 002's way), the median of the same ratios within each round, and CPU
milliseconds per image (steadier than wall time when other processes share the CPU).

Run from the project root::

    python benchmarks/augmentation.py                           # 5 rounds, 10,000 images
    python benchmarks/augmentation.py --rounds 2 --n-train 4000 # quick check
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as common  # noqa: E402

AUGMENT = ("flip", "rotation:15", "translation:0.1")
VARIANTS = ("aug", "plain", "legacy")
BATCH = 64


def synthetic(n: int, seed: int = 0):
    """CIFAR-10-shaped uint8 images with balanced labels 0..9."""
    import numpy as np

    rng = np.random.default_rng(seed)
    x = rng.integers(0, 256, (n, 32, 32, 3), dtype=np.uint8)
    y = np.arange(n, dtype=np.int64) % 10
    rng.shuffle(y)
    return x, y


class Variant:
    """One way of feeding the CNN: its own model, data and epoch timings."""

    def __init__(self, name: str, x, y, seed: int) -> None:
        import keras
        import tensorflow as tf

        from core.engine import optim
        from core.engine.executor import make_deterministic
        from core.engine.models import build_model
        from core.engine.pipeline import make_dataset
        from core.spec.config import RunConfig

        cfg = RunConfig(
            dataset="cifar10", model="cnn", batch_size=BATCH, seed=seed,
            augment=AUGMENT if name == "aug" else (),
        )  # fmt: skip
        make_deterministic(seed)
        self.name = name
        self.images = len(x)
        self.model = build_model(cfg, (32, 32, 3), 10, x_sample=x)
        optim.compile_model(self.model, cfg, -(-len(x) // BATCH), 10)
        labels = optim.prepare_labels(y, cfg, 10)
        if name == "legacy":
            generator = tf.keras.preprocessing.image.ImageDataGenerator(
                rotation_range=15,
                width_shift_range=0.1,
                height_shift_range=0.1,
                horizontal_flip=True,
            )
            self.data = generator.flow(x, labels, batch_size=BATCH, seed=seed)
        else:
            # One epoch laid out as training lays out its epochs (seeded by (seed, epoch)).
            self.data = make_dataset(
                x, labels, BATCH, seed, cfg.augment, training=True, epochs=(0, 1)
            )
        self.wall: list[float] = []  # seconds of each timed epoch
        self.cpu: list[float] = []  # CPU seconds of this process (all threads) in that epoch
        self._start = (0.0, 0.0)
        self._timer = keras.callbacks.LambdaCallback(
            on_epoch_begin=lambda *_: self._begin(), on_epoch_end=lambda *_: self._end()
        )

    def _begin(self) -> None:
        self._start = (time.perf_counter(), time.process_time())

    def _end(self) -> None:
        self.wall.append(time.perf_counter() - self._start[0])
        self.cpu.append(time.process_time() - self._start[1])

    def epoch(self) -> None:
        """Train one more epoch (the model keeps its traced step between calls)."""
        self.model.fit(self.data, epochs=1, shuffle=False, callbacks=[self._timer], verbose=0)

    def rates(self) -> list[float]:
        """Images per second of each timed epoch (the first, with tracing, left out)."""
        return [self.images / s for s in self.wall[1:]]

    def cpu_ms_per_image(self) -> float:
        """Median CPU milliseconds per image over the timed epochs."""
        return common.median([c / self.images * 1000 for c in self.cpu[1:]])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5, help="timed epochs of each variant")
    parser.add_argument("--n-train", type=int, default=10_000, help="synthetic training images")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

    x, y = synthetic(args.n_train, args.seed)
    variants = [Variant(name, x, y, args.seed) for name in VARIANTS]
    for variant in variants:
        variant.epoch()  # the untimed first epoch: tracing, buffers
    ratios: dict[str, list[float]] = {"aug_vs_plain": [], "aug_vs_legacy": []}
    for r in range(args.rounds):
        order = variants[r % 3 :] + variants[: r % 3]
        for variant in order:
            variant.epoch()
        aug, plain, legacy = (v.wall[-1] for v in variants)
        ratios["aug_vs_plain"].append(plain / aug)
        ratios["aug_vs_legacy"].append(legacy / aug)
        timed = ", ".join(f"{v.name} {v.wall[-1]:.2f} s" for v in order)
        print(f"round {r + 1}: {timed}")

    medians = {v.name: common.median(v.rates()) for v in variants}
    cpu = {v.name: v.cpu_ms_per_image() for v in variants}
    aug_vs_plain = medians["aug"] / medians["plain"]
    aug_vs_legacy = medians["aug"] / medians["legacy"]
    print()
    print(
        common.table(
            ["variant", "median images/s", "CPU ms/image", "timed epochs"],
            [[v.name, medians[v.name], cpu[v.name], len(v.rates())] for v in variants],
        )
    )
    print()
    print(
        f"aug / plain  = {aug_vs_plain:.3f}  (goal >= 0.85; "
        f"median of per-round ratios {common.median(ratios['aug_vs_plain']):.3f})"
    )
    print(
        f"aug / legacy = {aug_vs_legacy:.3f}  (goal >= 1.0; "
        f"median of per-round ratios {common.median(ratios['aug_vs_legacy']):.3f})"
    )
    common.emit(
        {
            "benchmark": "augmentation",
            "n_train": args.n_train,
            "rounds": args.rounds,
            "images_per_s": {name: round(value, 1) for name, value in medians.items()},
            "epoch_s": {v.name: [round(s, 3) for s in v.wall[1:]] for v in variants},
            "cpu_ms_per_image": {name: round(value, 3) for name, value in cpu.items()},
            "aug_vs_plain": round(aug_vs_plain, 3),
            "aug_vs_legacy": round(aug_vs_legacy, 3),
            "round_ratio_medians": {k: round(common.median(v), 3) for k, v in ratios.items()},
            "goal_aug_vs_plain": 0.85,
            "goal_aug_vs_legacy": 1.0,
            "cpus": os.cpu_count(),
            "load_avg_1m": round(os.getloadavg()[0], 2),
        }
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
