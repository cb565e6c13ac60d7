"""How long each page takes to render in a browser with 10,000 runs in the store (goal: 1.5 s).

One ``streamlit run app.py`` server (headless, its own temporary cache folder) over a copy of
the built store (``benchmarks/_big_store.py``: ``--trials`` finished trials of ``--epochs``
epochs with realistic results, built once and kept in ``cache/benchmarks/``), plus one run left
running mid-training for this process (as ``runs_load.py`` adds it), so the Train page opens
on its live view. Headless Chromium (Playwright) opens Home once, untimed, so the server has
imported the app; then, for each page, a fresh browser context navigates to it and the clock
(``time.monotonic``) runs from the navigation to the moment the page's title is visible and the
app reports ``data-test-script-state='notRunning'`` (the script run ended).

Reported per page: ``first_s``, the page's first visit on this server (what a person opening it
first waits: the page's own imports and caches are cold), and ``median_s`` over ``--repeats``
further visits, each in a fresh browser session. For scale, the same visits to a one-line page
(``st.title("hello")``) on a server of its own: what Streamlit and the browser cost here with
no app at all (``one_line``). The runs' curve summaries are worked out and kept in the store
copy before the server starts, as a store's first Runs visit leaves them (``--unsummarised``
leaves that to the server, which then works them out in the background while pages are timed).

    python benchmarks/page_render.py                  # every page
    python benchmarks/page_render.py --page Runs      # one page: one figure
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import _big_store as big  # noqa: E402
from benchmarks import _common as common  # noqa: E402
from benchmarks.runs_load import add_running  # noqa: E402

GOAL_S = 1.5
PAGES = ("Home", "Train", "Runs", "Compare", "Tune")
ONE_LINE = 'import streamlit as st\nst.title("hello")\n'
TITLES = {"Home": "Hyperparameter Explorer"}

READY = """(title) => {
  const app = document.querySelector(%r);
  if (!app) return false;
  return [...document.querySelectorAll('h1')].some(
    e => e.textContent.includes(title) && e.getClientRects().length > 0);
}"""


def visit(browser, url: str, title: str, timeout: float) -> float:
    """Seconds from navigating a fresh session to ``url`` to its rendered page."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    try:
        start = time.monotonic()
        page.goto(url, wait_until="commit", timeout=timeout * 1000)
        page.wait_for_function(
            READY % common.READY_SELECTOR, arg=title, polling="raf", timeout=timeout * 1000
        )
        return time.monotonic() - start
    finally:
        context.close()


def summarise(root: Path) -> None:
    """Keep every run's curve summary in the store, as its first Runs visit leaves it."""
    from core.store import open_store
    from core.views import run_curves, runs

    store = open_store(root)
    runs.runs_frame(store)
    for thread in list(run_curves._working.values()):
        thread.join()


def _one_line(browser, root: Path, args: argparse.Namespace) -> dict[str, object]:
    """The visits to a one-line page on a server of its own."""
    script = root / "hello.py"
    script.write_text(ONE_LINE)
    port = common.free_port()
    url = f"http://127.0.0.1:{port}/"
    proc = common.spawn_streamlit(script, port, root, root / "hello.log")
    try:
        page = browser.new_page()
        common.goto_with_retries(page, url, time.monotonic() + args.timeout)
        page.close()
        times = [visit(browser, url, "hello", args.timeout) for _ in range(args.repeats + 1)]
    finally:
        common.stop(proc)
    print(f"  one-line {times}", flush=True)
    return {
        "first_s": round(times[0], 3),
        "median_s": round(common.median(times[1:]), 3),
        "max_s": round(max(times[1:]), 3),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--page", choices=PAGES, action="append", help="page(s) to time (all)")
    parser.add_argument("--trials", type=int, default=10_000)
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds per visit (120)")
    parser.add_argument(
        "--unsummarised",
        action="store_true",
        help="leave the runs' curve summaries to the server (as on a store's first Runs visit)",
    )
    args = parser.parse_args()
    pages = args.page or list(PAGES)
    big.cached(args.trials, args.epochs)  # built outside the timing, once
    root = common.temp_cache("render")
    results: dict[str, dict[str, object]] = {}
    try:
        big.copy_into(root, args.trials, args.epochs)
        if not args.unsummarised:
            summarise(root)
        add_running(root, args.epochs)
        port = common.free_port()
        base = f"http://127.0.0.1:{port}/"
        proc = common.spawn_streamlit(common.ROOT / "app.py", port, root, root / "streamlit.log")
        try:
            with common.chromium() as browser:
                context = browser.new_context()
                home = context.new_page()
                common.goto_with_retries(home, base, time.monotonic() + args.timeout)
                home.wait_for_function(
                    READY % common.READY_SELECTOR,
                    arg=TITLES["Home"],
                    polling="raf",
                    timeout=args.timeout * 1000,
                )
                urls = {
                    name: base if name == "Home" else common.page_url(home, base, name)
                    for name in pages
                }
                context.close()
                results["one_line"] = _one_line(browser, root, args)
                for name in pages:
                    title = TITLES.get(name, name)
                    times = [visit(browser, urls[name], title, args.timeout)]
                    times += [
                        visit(browser, urls[name], title, args.timeout) for _ in range(args.repeats)
                    ]
                    results[name] = {
                        "first_s": round(times[0], 3),
                        "median_s": round(common.median(times[1:]), 3),
                        "max_s": round(max(times[1:]), 3),
                    }
                    print(f"  {name:8s} {times}", flush=True)
        finally:
            common.stop(proc)
    finally:
        common.remove_cache(root)
    print(
        common.table(
            ["page", "first s", "median s", "max s"],
            [[n, r["first_s"], r["median_s"], r["max_s"]] for n, r in results.items()],
        )
    )
    worst = max(max(r["first_s"], r["median_s"]) for n, r in results.items() if n != "one_line")
    common.emit(
        {
            "benchmark": "page_render",
            "trials": args.trials,
            "epochs_per_trial": args.epochs,
            "pages": results,
            "goal_s": GOAL_S,
            "within_goal": worst <= GOAL_S,
        }
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
