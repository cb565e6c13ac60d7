"""A real Streamlit server and a real headless Chromium for browser tests.

Chromium comes from Debian (``apt-get install chromium``); Playwright drives it. Without it the
browser tests are skipped on a developer's machine and fail in CI (where ``CI`` is set).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.store import Store, paths
from core.worker.launch import IDLE_ENV, worker_alive

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
READY = "[data-testid='stApp'][data-test-script-state='notRunning']"
# Points drawn in the first Plotly chart's first trace (Streamlit sends arrays in binary form,
# so the count is read from Plotly's own processed data).
POINTS = """() => {
  const plot = document.querySelector('.js-plotly-plot');
  return plot && plot._fullData && plot._fullData.length ? plot._fullData[0].x.length : 0;
}"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for_port(port: int, proc: subprocess.Popen, timeout: float = 60) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise RuntimeError(f"streamlit exited with {proc.returncode}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise TimeoutError("streamlit did not start")


def start_server(cache: Path, port: int | None = None) -> tuple[subprocess.Popen, str]:
    """Start ``streamlit run app.py`` with this cache; return the process and its URL."""
    port = port or _free_port()
    env = {**os.environ, paths.CACHE_ENV: str(cache), IDLE_ENV: "3"}
    proc = subprocess.Popen(
        [
            sys.executable, "-m", "streamlit", "run", "app.py",
            "--server.port", str(port), "--server.headless", "true",
        ],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    _wait_for_port(port, proc)
    return proc, f"http://127.0.0.1:{port}"


def stop_server(proc: subprocess.Popen) -> None:
    """Stop a server started by ``start_server`` (killed if it does not stop within 10 s)."""
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:  # open sessions can hold a shutting-down server up
        proc.kill()
        proc.wait(timeout=10)


@pytest.fixture
def app_url(cache: Path) -> Iterator[str]:
    """Start ``streamlit run app.py`` on a free port with the test's cache; stop it after."""
    proc, url = start_server(cache)
    try:
        yield url
    finally:
        stop_server(proc)
        stop_workers(cache)


def stop_workers(cache: Path) -> None:
    """Let the worker exit (it idles out), or end it, so it never outlives the test folder."""
    end = time.monotonic() + 30
    while worker_alive(cache) and time.monotonic() < end:
        time.sleep(0.3)
    if worker_alive(cache):
        for trial in Store(paths.store_path(cache)).trials():
            if trial.worker_pid:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(trial.worker_pid, signal.SIGKILL)


@pytest.fixture
def browser():
    """A headless Debian Chromium driven by Playwright."""
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            pytest.fail("Chromium is not installed: apt-get install chromium")
        pytest.skip("Chromium is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        instance = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield instance
        finally:
            instance.close()
