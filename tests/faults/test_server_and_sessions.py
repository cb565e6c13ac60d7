"""The server can go away during a run, and two people can launch at the same moment."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from core.spec.config import RunConfig
from core.store import Status, Store
from core.worker.launch import ensure_worker
from tests.e2e.conftest import POINTS, READY, start_server, stop_server, stop_workers
from tests.worker.test_worker import wait_for

pytestmark = pytest.mark.faults


def test_a_run_outlives_a_server_restart_and_shows_live_again(
    store: Store, cache: Path, browser
) -> None:
    # Long enough to still be training when the new server's page opens; cancelled at the end.
    cfg = RunConfig(model="mlp", epochs=400, batch_size=8)
    _, (tid,) = store.create_study("s", "single", [cfg])
    proc, url = start_server(cache)
    try:
        ensure_worker(cache)
        wait_for(lambda: len(store.epochs(tid)) >= 2)
        stop_server(proc)
        before = len(store.epochs(tid))
        wait_for(lambda: len(store.epochs(tid)) >= before + 2)  # training went on alone
        assert store.trial(tid).status == Status.RUNNING

        proc, url = start_server(cache)
        page = browser.new_page()
        page.goto(f"{url}/train?trial={tid}")
        page.wait_for_selector(READY, timeout=60_000)
        page.get_by_text(f"Run {tid} ·").wait_for(timeout=30_000)
        seen = page.evaluate(POINTS)
        page.wait_for_function(f"({POINTS})() > {seen}", timeout=60_000)  # still live
        store.request_cancel(tid)
        wait_for(lambda: store.trial(tid).status.finished)
    finally:
        stop_server(proc)
        stop_workers(cache)


def test_two_sessions_launch_at_once_and_both_run_in_order(
    store: Store, cache: Path, browser
) -> None:
    proc, url = start_server(cache)
    try:
        pages = []
        for epochs in ("2", "3"):
            context = browser.new_context()
            page = context.new_page()
            page.goto(f"{url}/train")
            page.wait_for_selector(READY, timeout=60_000)
            page.get_by_role("spinbutton", name="Epochs", exact=True).fill(epochs)
            pages.append(page)
        for page in pages:  # as close together as one driver can click
            page.get_by_role("button", name="Train").click(no_wait_after=True)
        wait_for(lambda: len(store.trials()) == 2, timeout=30)
        wait_for(lambda: all(t.status.finished for t in store.trials()), timeout=180)
        first, second = sorted(store.trials(), key=lambda t: t.id)
        assert first.status == second.status == Status.COMPLETED
        assert {first.config["epochs"], second.config["epochs"]} == {2, 3}
        for trial in (first, second):  # no rows lost or mixed up
            assert [e.epoch for e in store.epochs(trial.id)] == list(range(trial.config["epochs"]))
        assert first.finished_at <= second.started_at
        time.sleep(0.5)
    finally:
        stop_server(proc)
        stop_workers(cache)
