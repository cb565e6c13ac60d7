"""How long Tune's Resume button takes to answer in a browser with 10,000 runs (goal: 1 s).

One ``streamlit run app.py`` server over a copy of the built store (``benchmarks/_big_store.py``,
curve summaries worked out first as in ``page_render.py``), whose latest search is marked
cancelled so that Tune offers **Resume**. Headless Chromium opens that search and waits until
its charts are drawn and the browser is idle; then the clock (``time.monotonic``) runs from
the click to two moments: the press's answer (the toast saying
the search is queued again: ``answer_s``), and the search's header showing it queued or
running with the page's script run ended (``live_s``: the page drawn again as the live view).
Each repeat cancels the search again and stops the worker the press started (it would train
on the copy meanwhile), then opens the page afresh.

    python benchmarks/button_answer.py [--repeats 3]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import _big_store as big  # noqa: E402
from benchmarks import _common as common  # noqa: E402
from benchmarks.page_render import summarise  # noqa: E402

GOAL_S = 1.0
ANSWERED = """() => [...document.querySelectorAll('[data-testid=stToast]')].some(
  t => t.textContent.includes('queued again'))"""
# The page as a person sees it before pressing: every chart drawn and the browser idle (a
# press while Plotly still draws waits for it, which is the page's first render, not the press).
DRAWN = """() => [...document.querySelectorAll('[data-testid=stPlotlyChart]')].every(
  c => c.querySelector('.main-svg'))"""
IDLE = "() => new Promise(done => requestIdleCallback(() => done(true), {timeout: 5000}))"
LIVE = """() => {
  const app = document.querySelector(%r);
  return !!app && [...document.querySelectorAll('h4')].some(
    h => /queued|running/.test(h.textContent));
}"""


def stop_search(root: Path, study_id: int) -> None:
    """Cancel the search again and stop every worker process of the cache folder ``root``."""
    from core.store import open_store
    from core.store import searches as search_store

    for proc in psutil.process_iter(["cmdline"]):
        line = " ".join(proc.info["cmdline"] or [])
        if "core.worker" in line and str(root) in line:
            proc.kill()
    search_store.set_state(open_store(root), study_id, "cancelled")


def latest_search(root: Path) -> int:
    from core.store import open_store
    from core.worker.searches import SEARCH_KIND

    return open_store(root).studies(limit=1, kind=SEARCH_KIND)[0].id


def press_resume(browser, url: str, timeout: float) -> tuple[float, float]:
    """Seconds from a click on Resume to its answer, and to the search shown live again."""
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    try:
        common.goto_with_retries(page, url, time.monotonic() + timeout)
        button = page.get_by_role("button", name="Resume")
        button.wait_for(timeout=timeout * 1000)
        page.wait_for_selector(common.READY_SELECTOR, timeout=timeout * 1000)
        page.wait_for_function(DRAWN, polling="raf", timeout=timeout * 1000)
        page.evaluate(IDLE)
        start = time.monotonic()
        button.click()
        page.wait_for_function(ANSWERED, polling="raf", timeout=timeout * 1000)
        answered = time.monotonic() - start
        page.wait_for_function(LIVE % common.READY_SELECTOR, polling="raf", timeout=timeout * 1000)
        return answered, time.monotonic() - start
    finally:
        page.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=10_000)
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds per press (120)")
    args = parser.parse_args()
    big.cached(args.trials, args.epochs)  # built outside the timing, once
    root = common.temp_cache("buttons")
    times: list[tuple[float, float]] = []
    try:
        big.copy_into(root, args.trials, args.epochs)
        summarise(root)
        study = latest_search(root)
        stop_search(root, study)
        port = common.free_port()
        url = f"http://127.0.0.1:{port}/tune?study={study}"
        proc = common.spawn_streamlit(common.ROOT / "app.py", port, root, root / "streamlit.log")
        try:
            with common.chromium() as browser:
                press_resume(browser, url, args.timeout)  # untimed: the server's first visit
                stop_search(root, study)
                for _ in range(args.repeats):
                    times.append(press_resume(browser, url, args.timeout))
                    stop_search(root, study)
                    print(f"  Resume: answer {times[-1][0]:.3f} s, live {times[-1][1]:.3f} s")
        finally:
            common.stop(proc)
            stop_search(root, study)
    finally:
        common.remove_cache(root)
    answers, lives = ([t[i] for t in times] for i in (0, 1))
    rows = [
        ["answer (toast)", common.median(answers), max(answers)],
        ["live view", common.median(lives), max(lives)],
    ]
    print(common.table(["Resume", "median s", "max s"], rows))
    common.emit(
        {
            "benchmark": "button_answer",
            "trials": args.trials,
            "answer_s": [round(t, 3) for t in answers],
            "live_s": [round(t, 3) for t in lives],
            "goal_s": GOAL_S,
            "within_goal": max(answers) <= GOAL_S,
        }
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
