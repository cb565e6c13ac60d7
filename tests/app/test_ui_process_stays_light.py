"""The UI process never loads TensorFlow, Keras or keras-tuner, on any page in any state.

import-linter (``tests/test_architecture.py``) proves that nothing the pages import reaches
those packages; this test proves it at run time: one fresh Python process opens every page
through AppTest, the way the server does, in each state a store can be in, and then looks at
``sys.modules``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from streamlit.testing.v1 import AppTest

from core.store import paths

ROOT = Path(__file__).resolve().parents[2]
BANNED = ("tensorflow", "keras", "keras_tuner")


def _shown(at: AppTest) -> str:
    """The text a page shows, in one string, to tell which state it rendered."""
    elements = [*at.title, *at.subheader, *at.markdown, *at.caption, *at.info, *at.warning]
    labels = [m.label for m in at.metric]
    return "\n".join([*(e.value for e in elements), *labels])


def _open(page: str, query: dict[str, str] | None = None) -> AppTest:
    """Open the app on ``page`` through app.py, as a browser does."""
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=30)
    for key, value in (query or {}).items():
        at.query_params[key] = value
    if page != "app.py":
        at.switch_page(page)
    return at.run()


def _check(at: AppTest, page: str, *expected: str) -> None:
    assert not at.exception, (page, [e.value for e in at.exception])
    text = _shown(at)
    for words in expected:
        assert words in text, (page, words, text[:2000])


def render_every_page(states: dict) -> list[str]:
    """Render every page in every state; return the TensorFlow-family modules then loaded.

    Runs in a fresh process (see the test below). ``states`` holds the cache folders and the
    ids the test wrote: ``full`` (a running run, a finished run, a sweep, a search and an
    uploaded folder) and ``empty``.
    """
    os.environ[paths.CACHE_ENV] = states["full"]
    running, done = states["running"], states["done"]
    # The running run first: its heartbeat is fresh only for a few seconds.
    _check(_open("app.py"), "home", f"Run {running}")
    _check(_open("pages/train.py", {"trial": str(running)}), "train, running", f"Run {running}")
    _check(_open("pages/train.py", {"trial": str(done)}), "train, done", "Test accuracy")
    at = _open("pages/train.py")
    at.selectbox(key="dataset").select(states["upload"]).run()
    _check(at, "train, upload", "images in 2 classes")
    assert at.get("plotly_chart"), "the upload's preview"
    at = _open("pages/runs.py")
    at.session_state[at.dataframe[0].key] = {
        "selection": {"rows": [0, 1], "columns": [], "cells": []}
    }
    _check(at.run(), "runs, two selected", "Compare 2 runs")
    _check(_open("pages/runs.py", {"trial": str(done)}), "runs, done", f"Run {done}")
    _check(_open("pages/compare.py"), "compare, sweep", "Highest test accuracy")
    search = str(states["search"])
    _check(_open("pages/tune.py", {"study": search}), "tune, search", f"Search {search}")

    os.environ[paths.CACHE_ENV] = states["empty"]
    _check(_open("app.py"), "home, empty", "No studies yet")
    _check(_open("pages/train.py"), "train, empty", "No runs yet")
    _check(_open("pages/runs.py"), "runs, empty", "No runs yet")
    _check(_open("pages/compare.py"), "compare, empty", "No sweeps yet")
    _check(_open("pages/tune.py"), "tune, empty", "No searches yet")
    return sorted(m for m in sys.modules if m.split(".")[0] in BANNED)


def test_every_page_in_every_state_renders_without_tensorflow(tmp_path: Path) -> None:
    # The builders are imported here, not at the top: the render process imports this module
    # and should load only what the pages load.
    from core.data.folders import add_upload
    from core.spec.config import RunConfig
    from core.store import Status, Store
    from core.worker.launch import worker_alive
    from tests.app.conftest import write_sweep
    from tests.app.test_upload import zip_of
    from tests.app.tune_fixtures import write_search

    full, empty = tmp_path / "full", tmp_path / "empty"
    full.mkdir()
    empty.mkdir()
    store = Store(paths.store_path(full))
    _, (done,) = store.create_study("done", "single", [RunConfig()], reserve_for=1)
    model = full / "model.keras"
    model.write_bytes(b"not read by the page until downloaded")
    store.add_epoch(
        done, 0, {"loss": 1.0, "accuracy": 0.5, "val_loss": 1.1, "val_accuracy": 0.4}, 1
    )
    store.finish_trial(
        done,
        Status.COMPLETED,
        results={
            "test_accuracy": 0.9,
            "test_loss": 0.3,
            "seconds_per_epoch": 1.0,
            "summary": [
                {"layer": "dense", "type": "Dense", "output_shape": "(None, 10)", "params": 10}
            ],
            "params": 10,
            "artifacts": {"model": str(model), "weights": str(model)},
        },
    )
    write_sweep(store, {"batch_size": "20, 100"}, [0.9, 0.8])
    search, _, _ = write_search(store)
    upload = add_upload(zip_of(("a", "b")), full, name="ab.zip")
    # Claimed by pid 1, which is always alive: the run reads as running, and no page starts a
    # worker for it.
    _, (running,) = store.create_study("running", "single", [RunConfig()], reserve_for=1)

    states = {
        "full": str(full),
        "empty": str(empty),
        "running": running,
        "done": done,
        "search": search,
        "upload": str(upload),
    }
    code = (
        "import json, sys\n"
        "from tests.app.test_ui_process_stays_light import render_every_page\n"
        "print('HEAVY:', json.dumps(render_every_page(json.loads(sys.argv[1]))))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, json.dumps(states)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    heavy = json.loads(out.stdout.split("HEAVY:", 1)[1])
    assert heavy == [], heavy[:20]
    assert not worker_alive(full) and not worker_alive(empty)  # nothing was queued
