"""Helpers shared by the benchmark scripts (not a benchmark itself).

Every script gets a temporary cache folder (``HPE_CACHE_DIR``) so nothing touches ``cache/``,
and reports a short table plus one final JSON line.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
READY_SELECTOR = "[data-testid='stApp'][data-test-script-state='notRunning']"


def temp_cache(prefix: str) -> Path:
    """Create a temporary cache folder, point HPE_CACHE_DIR (and KERAS_HOME) at it."""
    root = Path(tempfile.mkdtemp(prefix=f"hpe-bench-{prefix}-")) / "cache"
    root.mkdir()
    os.environ["HPE_CACHE_DIR"] = str(root)
    os.environ.setdefault("KERAS_HOME", str(root / "keras"))
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    return root


def remove_cache(root: Path) -> None:
    shutil.rmtree(root.parent, ignore_errors=True)


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values)) if values else float("nan")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A plain fixed-width table."""
    cells = [[str(h) for h in headers]] + [[_fmt(c) for c in r] for r in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = ["  ".join(c.rjust(w) for c, w in zip(row, widths, strict=True)) for row in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _fmt(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.3f}" if abs(value) < 1000 else f"{value:.0f}"
    return str(value)


def emit(figures: dict) -> None:
    """Print the one JSON line of figures (last line of output)."""
    print(json.dumps(figures, sort_keys=True), flush=True)


def streamlit_env(cache: Path) -> dict[str, str]:
    env = {**os.environ, "HPE_CACHE_DIR": str(cache), "PYTHONUNBUFFERED": "1"}
    env["STREAMLIT_BROWSER_GATHER_USAGE_STATS"] = "false"
    env["STREAMLIT_SERVER_HEADLESS"] = "true"
    return env


def spawn_streamlit(
    script: Path, port: int, cache: Path, log: Path, cwd: Path = ROOT
) -> subprocess.Popen:
    """Start ``streamlit run script`` headless on ``port`` (its own process group)."""
    cmd = [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(script),
        "--server.port",
        str(port),
        "--server.address",
        "127.0.0.1",
        "--server.headless",
        "true",
        "--browser.gatherUsageStats",
        "false",
        "--server.fileWatcherType",
        "none",
    ]
    handle = open(log, "ab")  # noqa: SIM115 - closed with the process
    proc = subprocess.Popen(
        cmd,
        cwd=cwd,
        env=streamlit_env(cache),
        stdin=subprocess.DEVNULL,
        stdout=handle,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    proc._bench_log = handle  # type: ignore[attr-defined]
    return proc


def stop(proc: subprocess.Popen, timeout: float = 10.0) -> None:
    """Stop a process this script started (and its process group, which it leads)."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, 15)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, 9)
            proc.wait()
    handle = getattr(proc, "_bench_log", None)
    if handle is not None:
        handle.close()


@contextlib.contextmanager
def chromium() -> Iterator[object]:
    """A headless Debian Chromium driven by Playwright."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()


def goto_with_retries(page, url: str, deadline: float) -> None:
    """Navigate until the server answers (it may not be listening yet)."""
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            page.goto(
                url, wait_until="commit", timeout=max(1000, (deadline - time.monotonic()) * 1000)
            )
            return
        except Exception as exc:  # noqa: BLE001 - connection refused while starting
            last = exc
            time.sleep(0.05)
    raise TimeoutError(f"{url} did not answer in time: {last}")


def vm_hwm_kib(pid: int) -> int | None:
    """Peak resident set size (VmHWM) of a live process, in KiB, from /proc."""
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    for line in text.splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return None


def vm_rss_kib(pid: int) -> int | None:
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    for line in text.splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return None


def page_url(page, base: str, label: str, timeout: float = 30.0) -> str:  # noqa: ARG001
    """The URL of the app page titled ``label`` in the navigation (``pages/ui/nav.py``).

    ``st.navigation`` names each URL after its page file (``/train``); the home page is the
    root. Pages in a section's menu have no link in the page until the menu opens, so the URL
    comes from the app's own list of pages. (``page`` and ``timeout`` are kept for callers.)
    """
    from pages.ui.nav import HOME_PAGE, SECTIONS

    for entries in SECTIONS.values():
        for entry in entries:
            if entry.title == label:
                if entry.path == HOME_PAGE:
                    return base.rstrip("/") + "/"
                return f"{base.rstrip('/')}/{Path(entry.path).stem}"
    raise LookupError(f"no page titled {label!r} in the navigation (base {base})")
