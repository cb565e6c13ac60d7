"""A folder dataset streamed from its disk cache vs the same images held in memory.

Writes (once) a folder of ``--images`` PNGs (default 50,000), ``--side`` × ``--side``
(default 64), in 10 class folders: random noise plus a stripe pattern whose angle depends on
the class, encoded by Pillow at its fastest setting. The folder is kept under the system's
temporary folder (``hpe-folder-stream-<images>-<side>``) and reused by later runs.

Then two child processes, one after the other, each train one trial through the app's own path
(``core.engine.training.run_trial`` with a real SQLite ``Store`` and ``TrialMonitor``), the same
small CNN (2 conv blocks of 16 and 32 filters, 64 dense units, batch size 64, validation split
0.2, ``--epochs`` epochs, default 2) on the same folder, the same splits and seed:

* **stream**: exactly what a run on a folder does: its images decoded once into the cache
  under the cache folder (shared by both children, so it is written once, by whichever child
  runs first; ``--cold`` makes the stream child write it), then read from there each epoch.
* **memory**: the same, except that the splits are read whole into NumPy arrays before
  training (``load_data`` wrapped in the child): the images held in memory.

Figures: each child's peak resident memory, the larger of its own ``VmHWM`` (from the start of
the trial) and the parent's psutil samples of its RSS every 0.2 s (the whole process); and
training images per second from the second epoch on (training images × epochs ÷ their seconds
as the store records them, validation included, the same for both). The figure: stream ÷
memory images per second (goal: at least 0.9), with the stream child's peak RSS (goal: under
1.5 GB).

    python benchmarks/folder_stream.py                 # 50,000 images
    python benchmarks/folder_stream.py --images 2000   # a quick check
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as common  # noqa: E402

CLASSES = 10
_DONE = ".written"


def write_folder(folder: Path, images: int, side: int) -> float:
    """Write the PNG folder unless a complete one is there; return the seconds it took."""
    if (folder / _DONE).is_file():
        return 0.0
    import numpy as np
    from PIL import Image

    start = time.perf_counter()
    rng = np.random.default_rng(0)
    rows, cols = np.mgrid[0:side, 0:side]
    patterns = []
    for label in range(CLASSES):
        angle = np.pi * label / CLASSES
        wave = np.sin((rows * np.cos(angle) + cols * np.sin(angle)) * 0.5)
        patterns.append(((wave + 1) * 64).astype(np.int16)[..., None])
    for label in range(CLASSES):
        (folder / f"class_{label}").mkdir(parents=True, exist_ok=True)
    for i in range(images):
        label = i % CLASSES
        noise = rng.integers(0, 128, (side, side, 3), dtype=np.int16)
        pixels = np.clip(noise + patterns[label], 0, 255).astype(np.uint8)
        Image.fromarray(pixels).save(folder / f"class_{label}" / f"{i:06d}.png", compress_level=1)
    (folder / _DONE).write_text(str(images))
    return time.perf_counter() - start


def child(args: argparse.Namespace) -> int:
    """One trial on the folder, streamed or held in memory; print its figures as JSON."""
    from core.store import paths

    root = paths.cache_dir()
    import core.engine.training as training
    from core.engine import peak_memory
    from core.engine.loading.image_files import ImageFiles
    from core.spec.config import RunConfig
    from core.store import Status, Store

    if args.mode == "memory":
        real = training.load_data

        def in_memory(*a, **k):  # noqa: ANN002, ANN003, ANN202 - load_data's own signature
            splits, key = real(*a, **k)
            held = {
                f.name: getattr(splits, f.name).load()
                for f in dataclasses.fields(splits)
                if isinstance(getattr(splits, f.name), ImageFiles)
            }
            return dataclasses.replace(splits, **held), key

        training.load_data = in_memory
    store = Store(paths.store_path(root))
    cfg = RunConfig(
        dataset=str(args.folder),
        model="cnn",
        conv_blocks=2,
        filters=(16, 32),
        dense_units=64,
        img_size=args.side,
        epochs=args.epochs,
        batch_size=64,
    )
    _, (tid,) = store.create_study(args.mode, "single", [cfg], reserve_for=os.getpid())
    start = time.perf_counter()
    with training.TrialMonitor(store, tid) as monitor:
        status = training.run_trial(store, store.trial(tid), monitor, root)
    trial = store.trial(tid)
    if status != Status.COMPLETED:
        print(json.dumps({"error": f"{status}: {trial.error}"}))
        return 1
    seconds = [e.seconds for e in store.epochs(tid)]
    print(
        json.dumps(
            {
                "mode": args.mode,
                "train": trial.results["sizes"]["train"],
                "epoch_seconds": seconds,
                "trial_seconds": time.perf_counter() - start,
                "vm_hwm_mb": peak_memory.peak_mb(),
            }
        ),
        flush=True,
    )
    return 0


def run_child(args: argparse.Namespace, mode: str, root: Path) -> dict:
    """Run one child, sampling its RSS; return its figures."""
    import psutil

    cmd = [sys.executable, __file__, "--child", mode, "--folder", str(args.folder)]
    cmd += ["--side", str(args.side), "--epochs", str(args.epochs)]
    env = {**os.environ, "HPE_CACHE_DIR": str(root), "KERAS_HOME": str(root / "keras")}
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        proc = subprocess.Popen(cmd, env=env, cwd=common.ROOT, stdout=out, stderr=err, text=True)
        watched, peak = psutil.Process(proc.pid), 0
        while proc.poll() is None:
            with contextlib.suppress(psutil.Error):
                peak = max(peak, watched.memory_info().rss)
            time.sleep(0.2)
        out.seek(0), err.seek(0)
        lines = out.read().strip().splitlines()
        if proc.returncode != 0 or not lines:
            raise RuntimeError(f"{mode} child failed:\n{lines[-5:]}\n{err.read()[-3000:]}")
    found = json.loads(lines[-1])
    if "error" in found:
        raise RuntimeError(f"{mode} child: {found['error']}")
    found["peak_mb"] = max(peak / 2**20, found["vm_hwm_mb"] or 0.0)
    later = found["epoch_seconds"][1:]
    found["images_per_s"] = found["train"] * len(later) / sum(later) if later else float("nan")
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=50_000)
    parser.add_argument("--side", type=int, default=64)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--folder", type=Path, default=None)
    parser.add_argument("--cold", action="store_true", help="the stream child writes the cache")
    parser.add_argument("--child", choices=("stream", "memory"), default=None)
    args = parser.parse_args()
    if args.child:
        args.mode = args.child
        return child(args)
    args.epochs = max(args.epochs, 2)
    args.folder = args.folder or (
        Path(tempfile.gettempdir()) / f"hpe-folder-stream-{args.images}-{args.side}"
    )
    wrote = write_folder(args.folder, args.images, args.side)
    root = common.temp_cache("folder-stream")
    try:
        order = ("stream", "memory") if args.cold else ("memory", "stream")
        found = {mode: run_child(args, mode, root) for mode in order}
    finally:
        common.remove_cache(root)
    stream, memory = found["stream"], found["memory"]
    rows = [
        [
            mode,
            f["train"],
            f["images_per_s"],
            f["peak_mb"],
            " ".join(f"{s:.1f}" for s in f["epoch_seconds"]),
        ]
        for mode, f in (("stream", stream), ("memory", memory))
    ]
    print(
        f"{args.images:,} PNGs {args.side}x{args.side} in {args.folder} (written in {wrote:.0f} s)"
    )
    print(
        common.table(
            ["mode", "train images", "images/s (epoch 2+)", "peak RSS MB", "epoch s"], rows
        )
    )
    ratio = stream["images_per_s"] / memory["images_per_s"]
    print(
        f"stream / memory images/s: {ratio:.3f} (goal >= 0.9); "
        f"stream peak RSS {stream['peak_mb']:.0f} MB (goal < 1536)"
    )
    common.emit(
        {
            "images": args.images,
            "stream_over_memory": round(ratio, 3),
            "stream_peak_rss_mb": round(stream["peak_mb"], 1),
            "memory_peak_rss_mb": round(memory["peak_mb"], 1),
            "stream_images_per_s": round(stream["images_per_s"], 1),
            "memory_images_per_s": round(memory["images_per_s"], 1),
        }
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
