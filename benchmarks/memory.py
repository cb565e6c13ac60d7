"""Peak memory (max RSS) of the training worker and of the UI process (the Streamlit server).

Peak RSS is ``VmHWM`` from ``/proc/<pid>/status`` (no extra dependency), in MiB.

Worker: a subprocess does what the worker does for one trial (``Store``, ``TrialMonitor``,
``core.engine.training.run_trial``; temporary cache via ``HPE_CACHE_DIR``) on CIFAR-10-shaped data:
50,000 training and 10,000 test images, 32×32×3 uint8, synthetic, 10 balanced classes; config
``cifar10``, ``cnn``, 1 epoch, batch size 64, validation split 0.2 (so 40,000 images train and
10,000 validate), then test evaluation and saving as usual. The arrays are handed over by
monkeypatching ``core.engine.loading.datasets.check_available`` and
``core.engine.loading.datasets._keras_arrays`` in that subprocess; ``load_splits`` (the stratified
split) and everything after it is the real code. The real worker process (``python -m core.worker``)
cannot be used: Keras's cifar10 loader checks the archive against the official SHA-256, which no
synthetic archive has. So the figure leaves out what Keras's own loader and the joblib cache would
add while parsing the archive; it covers holding the arrays, the split, ``model.fit`` and the rest.
``VmHWM`` is read at checkpoints (after importing TensorFlow, after making the arrays, after the
trial) so the share of each phase shows. ``--n-train`` / ``--epochs`` change the size.

UI: a fresh ``streamlit run app.py`` (headless, free port, another temporary cache). Its
``VmHWM`` is read once it answers, after the home page is drawn in headless Chromium, and at
the end; in between a digits run (cnn, ``--ui-epochs`` 20, batch size 8) is queued and the
Train page is opened with ``?trial=N``, so the page's live fragment polls the store every
second (and starts the real worker) while it trains, then shows the finished run for
``--hold`` seconds. ``VmRSS`` is sampled every 0.5 s to show growth during the live view, and
``/proc/<pid>/maps`` is checked for TensorFlow (the UI process must not load it).

    python benchmarks/memory.py                    # both
    python benchmarks/memory.py --skip-ui --n-train 10000   # quicker worker figure only
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as common  # noqa: E402


def mib(kib: int | None) -> float | None:
    return None if kib is None else round(kib / 1024, 1)


def worker_child(args) -> int:
    """One CIFAR-shaped trial as the worker runs it; print VmHWM checkpoints as JSON."""
    me = os.getpid()
    marks = {"start": common.vm_hwm_kib(me)}
    from core.store import paths

    root = paths.cache_dir()
    os.environ["KERAS_HOME"] = str(paths.keras_home(root))
    from core.engine.training import TrialMonitor, run_trial  # TensorFlow loads here
    from core.store import Status, Store

    marks["after_import"] = common.vm_hwm_kib(me)
    import numpy as np

    from core.engine.loading import datasets
    from core.spec.config import RunConfig

    rng = np.random.default_rng(0)
    x_train = rng.integers(0, 256, (args.n_train, 32, 32, 3), dtype=np.uint8)
    y_train = np.arange(args.n_train, dtype=np.int64) % 10
    x_test = rng.integers(0, 256, (args.n_test, 32, 32, 3), dtype=np.uint8)
    y_test = np.arange(args.n_test, dtype=np.int64) % 10
    data_mib = sum(a.nbytes for a in (x_train, y_train, x_test, y_test)) / 2**20
    # Handed over once and not kept here, like the real loader's arrays (read from the joblib
    # cache for the call), so the full arrays can be freed once load_splits has split them.
    handover = [(x_train, y_train, x_test, y_test)]
    del x_train, y_train, x_test, y_test
    datasets.check_available = lambda name, root=None: None
    datasets._keras_arrays = lambda name, root=None: handover.pop()
    marks["after_data"] = common.vm_hwm_kib(me)

    store = Store(paths.store_path(root))
    cfg = RunConfig(dataset="cifar10", model="cnn", epochs=args.epochs, batch_size=args.batch_size)
    _, (tid,) = store.create_study("memory", "single", [cfg], reserve_for=me)
    t0 = time.monotonic()
    with TrialMonitor(store, tid) as monitor:
        status = run_trial(store, store.trial(tid), monitor, root)
    seconds = time.monotonic() - t0
    marks["after_trial"] = common.vm_hwm_kib(me)
    trial = store.trial(tid)
    if status != Status.COMPLETED:
        print(json.dumps({"error": f"{status}: {trial.error}"}))
        return 1
    print(
        json.dumps(
            {
                "marks": marks,
                "data_mib": data_mib,
                "seconds": seconds,
                "sizes": trial.results["sizes"],
            }
        ),
        flush=True,
    )
    return 0


def worker_figures(args) -> dict:
    root = common.temp_cache("memory-worker")
    cmd = [
        sys.executable,
        __file__,
        "--worker-child",
        "--n-train",
        str(args.n_train),
        "--n-test",
        str(args.n_test),
        "--epochs",
        str(args.epochs),
        "--batch-size",
        str(args.batch_size),
    ]
    try:
        out = subprocess.run(
            cmd,
            env={**os.environ, "HPE_CACHE_DIR": str(root)},
            cwd=common.ROOT,
            capture_output=True,
            text=True,
        )
        lines = out.stdout.strip().splitlines()
        if out.returncode != 0 or not lines:
            raise RuntimeError(f"worker child failed:\n{out.stdout[-2000:]}\n{out.stderr[-3000:]}")
        return json.loads(lines[-1])
    finally:
        common.remove_cache(root)


class Sampler(threading.Thread):
    def __init__(self, pid: int, every: float = 0.5) -> None:
        super().__init__(daemon=True)
        self.pid, self.every = pid, every
        self.samples: list[tuple[float, int, str]] = []
        self.phase = "start"
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            rss = common.vm_rss_kib(self.pid)
            if rss is not None:
                self.samples.append((time.monotonic(), rss, self.phase))
            time.sleep(self.every)


def ui_figures(args) -> dict:
    from core.spec.config import RunConfig
    from core.store import Store

    root = Path(tempfile.mkdtemp(prefix="hpe-bench-memory-ui-")) / "cache"
    root.mkdir()
    port = common.free_port()
    base = f"http://127.0.0.1:{port}"
    proc = common.spawn_streamlit(common.ROOT / "app.py", port, root, root / "streamlit.log")
    sampler = Sampler(proc.pid)
    sampler.start()
    marks: dict[str, float | None] = {}
    worker_pid = None
    try:
        with common.chromium() as browser:
            context = browser.new_context(viewport={"width": 1400, "height": 1000})
            page = context.new_page()
            common.goto_with_retries(page, base + "/", time.monotonic() + 60)
            marks["server_up"] = mib(common.vm_hwm_kib(proc.pid))
            page.wait_for_selector(common.READY_SELECTOR, timeout=60_000)
            page.get_by_text("Hyperparameter Explorer").first.wait_for()
            time.sleep(1.0)
            marks["home_drawn"] = mib(common.vm_hwm_kib(proc.pid))
            train = common.page_url(page, base, "Train")
            store = Store(root / "store.sqlite")
            cfg = RunConfig(dataset="digits", model="cnn", epochs=args.ui_epochs, batch_size=8)
            _, (tid,) = store.create_study("memory", "single", [cfg])
            sampler.phase = "live"
            page.goto(f"{train}?trial={tid}", wait_until="domcontentloaded")
            end = time.monotonic() + args.timeout
            while not store.trial(tid).status.finished:
                worker_pid = store.trial(tid).worker_pid or worker_pid
                if time.monotonic() > end:
                    raise TimeoutError(f"run {tid} did not finish in {args.timeout} s")
                time.sleep(0.5)
            worker_pid = store.trial(tid).worker_pid or worker_pid
            status = store.trial(tid).status
            marks["live_done"] = mib(common.vm_hwm_kib(proc.pid))
            sampler.phase = "finished view"
            time.sleep(args.hold)
            marks["end"] = mib(common.vm_hwm_kib(proc.pid))
            context.close()
        maps = Path(f"/proc/{proc.pid}/maps").read_text()
        tf_loaded = "tensorflow" in maps or "libtensorflow" in maps
    finally:
        sampler.stop.set()
        common.stop(proc)
        if worker_pid:
            with contextlib.suppress(ProcessLookupError):
                os.kill(worker_pid, 15)
        common.remove_cache(root)
    live = [rss for _, rss, phase in sampler.samples if phase == "live"]
    return {
        "marks": marks,
        "status": str(status),
        "tf_loaded": tf_loaded,
        "live_rss_first_mib": mib(live[0]) if live else None,
        "live_rss_last_mib": mib(live[-1]) if live else None,
        "rss_max_sampled_mib": mib(max(r for _, r, _ in sampler.samples)),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-train", type=int, default=50_000, help="synthetic training images")
    parser.add_argument("--n-test", type=int, default=10_000, help="synthetic test images")
    parser.add_argument("--epochs", type=int, default=1, help="worker epochs (1)")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--ui-epochs", type=int, default=20, help="epochs of the live digits run")
    parser.add_argument("--hold", type=float, default=10.0, help="seconds on the finished view")
    parser.add_argument("--timeout", type=float, default=240.0)
    parser.add_argument("--skip-worker", action="store_true")
    parser.add_argument("--skip-ui", action="store_true")
    parser.add_argument("--worker-child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker_child:
        return worker_child(args)

    figures: dict = {"benchmark": "memory"}
    if not args.skip_worker:
        w = worker_figures(args)
        m = {k: mib(v) for k, v in w["marks"].items()}
        print(
            f"worker: {args.n_train:,} + {args.n_test:,} images 32x32x3 uint8 "
            f"({w['data_mib']:.0f} MiB of arrays), cnn, {args.epochs} epoch(s), "
            f"batch {args.batch_size}; trial took {w['seconds']:.1f} s"
        )
        print(common.table(["checkpoint", "VmHWM MiB"], [(k, v) for k, v in m.items()]))
        print(
            f"worker peak RSS {m['after_trial']:.0f} MiB "
            f"({m['after_trial'] - m['after_data']:.0f} MiB above holding the arrays)\n",
            flush=True,
        )
        figures.update(
            {
                "worker_peak_rss_mib": m["after_trial"],
                "worker_rss_after_tf_import_mib": m["after_import"],
                "worker_rss_after_arrays_mib": m["after_data"],
                "worker_arrays_mib": round(w["data_mib"], 1),
                "worker_n_train": args.n_train,
                "worker_epochs": args.epochs,
            }
        )
    if not args.skip_ui:
        u = ui_figures(args)
        print("UI process (streamlit server)")
        print(common.table(["checkpoint", "VmHWM MiB"], list(u["marks"].items())))
        print(
            f"RSS during the live view: {u['live_rss_first_mib']} -> {u['live_rss_last_mib']} MiB"
            f"; TensorFlow loaded in the UI process: {u['tf_loaded']}; run {u['status']}"
        )
        figures.update(
            {
                "ui_peak_rss_mib": u["marks"].get("end"),
                "ui_rss_server_up_mib": u["marks"].get("server_up"),
                "ui_rss_home_mib": u["marks"].get("home_drawn"),
                "ui_live_rss_first_mib": u["live_rss_first_mib"],
                "ui_live_rss_last_mib": u["live_rss_last_mib"],
                "ui_tensorflow_loaded": u["tf_loaded"],
                "ui_live_epochs": args.ui_epochs,
            }
        )
    common.emit(figures)
    return 0


if __name__ == "__main__":
    sys.exit(main())
