"""Delay from the end of an epoch to (a) its row in the store and (b) its point in the browser.

All times are wall-clock ``time.time()`` (Python) or ``Date.now()`` (Chromium), on this one
machine, so they compare directly.

(a) Store: a trainer subprocess runs a digits trial exactly as the worker does (``Store``,
``TrialMonitor``, ``run_trial``; temporary cache via ``HPE_CACHE_DIR``), with one piece of
instrumentation: ``EpochRecorder.on_epoch_end`` is wrapped to note ``time.time()`` when Keras
calls it (then the real method runs unchanged). This process, a separate reader, polls the
``epochs`` table every ``--poll-ms`` (5 ms) on its own SQLite connection and notes when each
row first shows. Delay (a) = first seen − ``on_epoch_end`` call; also split into
``recorded_at`` (the ``time.time()`` that ``Store.add_epoch`` writes) − call, and seen −
``recorded_at`` (commit + poll granularity).

(b) Browser: a fresh ``streamlit run app.py`` (headless, free port, another temporary cache).
The run is queued with ``Store.create_study`` (digits, cnn, ``--epochs`` 10, batch size 8, so an
epoch takes about a second here) and headless Chromium opens the Train page (its URL is taken
from the "Train" navigation link on the home page) with ``?trial=N``; the page's
live fragment starts the real worker itself (``keep_queue_moving`` → ``ensure_worker``). A
script in the page samples, every 10 ms, the number of x values of the first trace of the
Plotly chart (``[data-testid=stPlotlyChart] .js-plotly-plot``, its ``data[0].x``, i.e. the
train-loss curve) and notes ``Date.now()`` whenever it changes. Delay (b) = time point k
appears − ``recorded_at`` of epoch k (the real worker's store write). It is split at the moment
the first WebSocket message whose Plotly figure has k points reached Chromium's network stack
(Chrome DevTools Protocol ``Network.webSocketFrameReceived`` timestamps, not delayed by a busy
page): before it, the server (fragment poll every ``POLL_SECONDS``, rerun, figure build);
after it, the browser (the Plotly bundle is loaded lazily with the first chart, then drawing).
The worker cannot be instrumented without patching it, so in (b) the epoch end is taken as
``recorded_at``; (a) shows how close the two are.

Reported: median and max of each delay; goal for (b): ≤ 1.5 s.

    python benchmarks/epoch_latency.py                 # 10 epochs, both parts
    python benchmarks/epoch_latency.py --epochs 4      # quicker
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import json
import os
import re
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as common  # noqa: E402

RECORDER = """() => {
  window.__points = [];
  let last = -1;
  const count = () => {
    const gd = document.querySelector("[data-testid='stPlotlyChart'] .js-plotly-plot");
    if (!gd || !gd.data || !gd.data.length) return 0;
    const x = gd.data[0].x;
    if (!x) return 0;
    if (typeof x.length === 'number') return x.length;
    const full = gd._fullData && gd._fullData[0];
    return full && typeof full._length === 'number' ? full._length : 0;
  };
  window.__count = count;
  setInterval(() => {
    const n = count();
    if (n !== last) { window.__points.push([n, Date.now()]); last = n; }
  }, 10);
}"""


_X = re.compile(rb'"x":\s*(\{[^}]*\}|\[[^\]]*\])')
_ITEMSIZE = {
    "i1": 1,
    "u1": 1,
    "i2": 2,
    "u2": 2,
    "i4": 4,
    "u4": 4,
    "f4": 4,
    "i8": 8,
    "u8": 8,
    "f8": 8,
}


def chart_points(payload: bytes) -> int | None:
    """Number of x values of the first trace of a Plotly figure in a Streamlit message, if any.

    Streamlit sends the figure as JSON text inside its protobuf message; Plotly encodes NumPy
    arrays as ``{"dtype": "i1", "bdata": "<base64>"}`` (or plain lists).
    """
    start = payload.find(b'"data":[')
    if start < 0:
        return None
    match = _X.search(payload, start)
    if not match:
        return None
    value = match.group(1)
    try:
        if value.startswith(b"["):
            inner = value[1:-1].strip()
            return 0 if not inner else inner.count(b",") + 1
        obj = json.loads(value)
        return len(base64.b64decode(obj["bdata"])) // _ITEMSIZE.get(obj.get("dtype", "f8"), 8)
    except (ValueError, KeyError):
        return None


class StoreReader(threading.Thread):
    """Polls the epochs table; notes when each (trial, epoch) row is first seen."""

    def __init__(self, db_path: Path, poll_s: float) -> None:
        super().__init__(daemon=True)
        self.db_path = db_path
        self.poll_s = poll_s
        self.seen: dict[tuple[int, int], tuple[float, float]] = {}  # -> (seen, recorded_at)
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.db_path.exists() and not self.stop.is_set():
            time.sleep(self.poll_s)
        db = None
        while not self.stop.is_set():
            try:
                if db is None:
                    db = sqlite3.connect(self.db_path, timeout=5.0, isolation_level=None)
                rows = db.execute("SELECT trial_id, epoch, recorded_at FROM epochs").fetchall()
            except sqlite3.Error:
                rows = []
            now = time.time()
            for trial_id, epoch, recorded_at in rows:
                self.seen.setdefault((trial_id, epoch), (now, recorded_at))
            time.sleep(self.poll_s)
        if db is not None:
            db.close()


def trainer_child(args) -> int:
    """Train one digits trial as the worker does, noting when on_epoch_end is called."""
    from core.spec.config import RunConfig
    from core.store import Store, paths

    root = paths.cache_dir()
    os.environ["KERAS_HOME"] = str(paths.keras_home(root))
    from core.engine import executor, training

    calls: list[tuple[int, float]] = []
    original = executor.EpochRecorder.on_epoch_end

    def noted(self, epoch, logs=None):
        calls.append((epoch, time.time()))
        return original(self, epoch, logs)

    executor.EpochRecorder.on_epoch_end = noted
    store = Store(paths.store_path(root))
    cfg = RunConfig(
        dataset="digits", model=args.model, epochs=args.epochs, batch_size=args.batch_size
    )
    _, (tid,) = store.create_study("latency", "single", [cfg], reserve_for=os.getpid())
    with training.TrialMonitor(store, tid) as monitor:
        status = training.run_trial(store, store.trial(tid), monitor, root)
    print(json.dumps({"trial": tid, "status": str(status), "calls": calls}), flush=True)
    return 0


def part_a(args) -> dict:
    root = common.temp_cache("latency-a")
    reader = StoreReader(root / "store.sqlite", args.poll_ms / 1000)
    reader.start()
    cmd = [
        sys.executable,
        __file__,
        "--trainer-child",
        "--epochs",
        str(args.epochs),
        "--batch-size",
        str(args.batch_size),
        "--model",
        args.model,
    ]
    env = {**os.environ, "HPE_CACHE_DIR": str(root)}
    try:
        out = subprocess.run(
            cmd, env=env, cwd=common.ROOT, capture_output=True, text=True, check=True
        )
        time.sleep(0.1)
    finally:
        reader.stop.set()
        reader.join()
    data = json.loads(out.stdout.strip().splitlines()[-1])
    if data["status"] != "completed":
        raise RuntimeError(f"trainer run ended {data['status']}")
    rows = []
    for epoch, called in data["calls"]:
        seen, recorded = reader.seen[(data["trial"], epoch)]
        rows.append(
            {
                "epoch": epoch + 1,
                "write": recorded - called,
                "commit_poll": seen - recorded,
                "total": seen - called,
            }
        )
    common.remove_cache(root)
    return {"rows": rows}


def part_b(args, browser) -> dict:
    from core.spec.config import RunConfig
    from core.store import Store

    root = Path(tempfile.mkdtemp(prefix="hpe-bench-latency-b-")) / "cache"
    root.mkdir()
    port = common.free_port()
    base = f"http://127.0.0.1:{port}"
    proc = common.spawn_streamlit(common.ROOT / "app.py", port, root, root / "streamlit.log")
    reader = StoreReader(root / "store.sqlite", args.poll_ms / 1000)
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    worker_pid = None
    try:
        common.goto_with_retries(page, base + "/", time.monotonic() + 60)
        page.wait_for_selector(common.READY_SELECTOR, timeout=60_000)
        store = Store(root / "store.sqlite")
        cfg = RunConfig(
            dataset="digits", model=args.model, epochs=args.epochs, batch_size=args.batch_size
        )
        _, (tid,) = store.create_study("latency", "single", [cfg])
        train = common.page_url(page, base, "Train")
        # Arrival of each WebSocket message at the browser's network stack (Chrome DevTools
        # Protocol), independent of how busy the page's main thread is.
        cdp = context.new_cdp_session(page)
        clock: dict[str, float] = {}
        frames: list[tuple[float, str, int]] = []
        cdp.on(
            "Network.webSocketWillSendHandshakeRequest",
            lambda e: clock.setdefault("offset", e["wallTime"] - e["timestamp"]),
        )
        cdp.on(
            "Network.webSocketFrameReceived",
            lambda e: frames.append(
                (e["timestamp"], e["response"]["payloadData"], e["response"]["opcode"])
            ),
        )
        bundle: dict[str, float | str] = {}

        def request_sent(e: dict) -> None:
            if "PlotlyChart" in e["request"]["url"] and "id" not in bundle:
                bundle.update(id=e["requestId"], sent=e["timestamp"])

        def request_done(e: dict) -> None:
            if e["requestId"] == bundle.get("id"):
                bundle.update(done=e["timestamp"], bytes=e.get("encodedDataLength", 0))

        cdp.on("Network.requestWillBeSent", request_sent)
        cdp.on("Network.loadingFinished", request_done)
        cdp.send("Network.enable")
        reader.start()
        page.goto(f"{train}?trial={tid}", wait_until="domcontentloaded")
        page.evaluate(RECORDER)
        end = time.monotonic() + args.timeout
        while time.monotonic() < end:
            trial = store.trial(tid)
            worker_pid = trial.worker_pid or worker_pid
            if trial.status.finished and page.evaluate("window.__count()") >= len(
                store.epochs(tid)
            ):
                break
            time.sleep(0.25)
        else:
            page.screenshot(path=str(Path(tempfile.gettempdir()) / "epoch_latency_timeout.png"))
            raise TimeoutError(
                f"run {tid} ({store.trial(tid).status}) not fully drawn in {args.timeout} s; "
                f"points seen {page.evaluate('window.__points')}; screenshot in "
                f"{tempfile.gettempdir()}/epoch_latency_timeout.png"
            )
        time.sleep(0.5)
        points = page.evaluate("window.__points")
        trial = store.trial(tid)
        epochs = store.epochs(tid)
    finally:
        reader.stop.set()
        context.close()
        common.stop(proc)
        if worker_pid:
            with contextlib.suppress(ProcessLookupError):
                os.kill(worker_pid, 15)
    if trial.status != "completed":
        raise RuntimeError(f"run ended {trial.status}: {trial.error}")
    arrivals: list[tuple[float, int]] = []  # (wall time, points in the chart message)
    for stamp, data, opcode in frames:
        raw = base64.b64decode(data) if opcode == 2 else data.encode()
        n = chart_points(raw)
        if n is not None and "offset" in clock:
            arrivals.append((stamp + clock["offset"], n))
    lazy = {}
    if "sent" in bundle and "offset" in clock:
        lazy["requested"] = bundle["sent"] + clock["offset"] - epochs[0].recorded_at
        if "done" in bundle:
            lazy["loaded"] = bundle["done"] + clock["offset"] - epochs[0].recorded_at
            lazy["bytes"] = bundle["bytes"]
    rows = []
    for e in epochs:
        shown = next((t / 1000 for n, t in points if n >= e.epoch + 1), None)
        sent = next((t for t, n in arrivals if n >= e.epoch + 1), None)
        seen = reader.seen.get((tid, e.epoch), (None, None))[0]
        rows.append(
            {
                "epoch": e.epoch + 1,
                "seconds": e.seconds,
                "store_seen": None if seen is None else seen - e.recorded_at,
                "arrived": None if sent is None else sent - e.recorded_at,
                "browser": None if shown is None else shown - e.recorded_at,
                "drawn_after_arrival": None if (shown is None or sent is None) else shown - sent,
            }
        )
    common.remove_cache(root)
    return {"rows": rows, "points": points, "lazy": lazy}


def stats(values: list[float]) -> tuple[float, float]:
    values = [v for v in values if v is not None]
    return (common.median(values), max(values)) if values else (float("nan"), float("nan"))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=10, help="epochs of the digits run (10)")
    parser.add_argument("--batch-size", type=int, default=8, help="batch size (8)")
    parser.add_argument("--model", default="cnn", choices=["cnn", "mlp"])
    parser.add_argument("--poll-ms", type=float, default=5.0, help="store reader poll (5 ms)")
    parser.add_argument("--timeout", type=float, default=240.0, help="seconds for part (b)")
    parser.add_argument("--skip-a", action="store_true", help="skip part (a)")
    parser.add_argument("--skip-b", action="store_true", help="skip part (b)")
    parser.add_argument("--trainer-child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.trainer_child:
        return trainer_child(args)

    figures: dict = {
        "benchmark": "epoch_latency",
        "epochs": args.epochs,
        "batch_size": args.batch_size,
        "model": args.model,
    }
    if not args.skip_a:
        a = part_a(args)
        print("(a) epoch end -> row visible to a separate reader process (ms)")
        print(
            common.table(
                ["epoch", "call->recorded_at", "recorded_at->seen", "call->seen"],
                [
                    (r["epoch"], r["write"] * 1e3, r["commit_poll"] * 1e3, r["total"] * 1e3)
                    for r in a["rows"]
                ],
            )
        )
        med, mx = stats([r["total"] for r in a["rows"]])
        wmed, wmx = stats([r["write"] for r in a["rows"]])
        print(f"(a) median {med * 1e3:.1f} ms, max {mx * 1e3:.1f} ms\n", flush=True)
        figures.update(
            {
                "store_delay_median_s": round(med, 4),
                "store_delay_max_s": round(mx, 4),
                "store_write_median_s": round(wmed, 4),
                "store_write_max_s": round(wmx, 4),
            }
        )
    if not args.skip_b:
        with common.chromium() as browser:
            b = part_b(args, browser)
        print("(b) recorded_at -> point drawn in Chromium (s)")
        print(
            common.table(
                [
                    "epoch",
                    "epoch s",
                    "->reader",
                    "->chart msg arrives",
                    "->drawn",
                    "arrival->drawn",
                ],
                [
                    (
                        r["epoch"],
                        r["seconds"],
                        r["store_seen"],
                        r["arrived"],
                        r["browser"],
                        r["drawn_after_arrival"],
                    )
                    for r in b["rows"]
                ],
            )
        )
        med, mx = stats([r["browser"] for r in b["rows"]])
        smed, smx = stats([r["store_seen"] for r in b["rows"]])
        lazy = b["lazy"]
        if lazy:
            print(
                f"Plotly bundle (PlotlyChart*.js, {lazy.get('bytes', 0) / 2**20:.1f} MiB "
                f"transferred) requested {lazy['requested']:+.3f} s and loaded "
                f"{lazy.get('loaded', float('nan')):+.3f} s from epoch 1's recorded_at"
            )
        amed, amx = stats([r["arrived"] for r in b["rows"]])
        dmed, dmx = stats([r["drawn_after_arrival"] for r in b["rows"]])
        missing = sum(r["browser"] is None for r in b["rows"])
        print(
            f"(b) median {med:.3f} s, max {mx:.3f} s"
            f"{f', {missing} point(s) never seen' if missing else ''}; "
            f"goal <= 1.5 s: {'met' if mx <= 1.5 and not missing else 'NOT met'}"
        )
        figures.update(
            {
                "browser_delay_median_s": round(med, 3),
                "browser_delay_max_s": round(mx, 3),
                "browser_points_missing": missing,
                "chart_message_arrival_median_s": round(amed, 3),
                "chart_message_arrival_max_s": round(amx, 3),
                "arrival_to_drawn_median_s": round(dmed, 3),
                "plotly_bundle_requested_s": round(lazy["requested"], 3) if lazy else None,
                "plotly_bundle_loaded_s": round(lazy["loaded"], 3) if "loaded" in lazy else None,
                "arrival_to_drawn_max_s": round(dmx, 3),
                "worker_store_seen_median_s": round(smed, 4),
                "worker_store_seen_max_s": round(smx, 4),
                "epoch_seconds_median": round(common.median([r["seconds"] for r in b["rows"]]), 3),
                "goal_met": bool(mx <= 1.5 and not missing),
            }
        )
    common.emit(figures)
    return 0


if __name__ == "__main__":
    sys.exit(main())
