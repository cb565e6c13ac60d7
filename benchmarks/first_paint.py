"""Time from ``streamlit run app.py`` to the home page's first paint, vs. a one-line page.

For each launch: a fresh ``streamlit run`` server process (headless, a free port, its own
temporary cache folder via ``HPE_CACHE_DIR``, working directory the project root so both
servers read the same ``.streamlit/config.toml``), and a fresh browser context in an
already-running headless Chromium (Debian's ``/usr/bin/chromium`` driven by Playwright; the
browser start is not timed). The clock (``time.monotonic``) starts just before the server
process is spawned. Playwright then navigates to the server, retrying while the port does not
answer yet, and waits (requestAnimationFrame polling) until
``[data-testid='stApp'][data-test-script-state='notRunning']`` is present **and** the page's
text is visible: the ``<h1>`` "Hyperparameter Explorer" for the app, "hello" for the
one-line page (``st.write("hello")`` written to a temporary file). That moment is the first
paint. Also reported: spawn → first HTTP answer (server start-up) and the rest (page load and
first script run).

Launches alternate app / one-line (one-line first on odd repeats) so drift hits both. Reported:
median of each, and the ratio app ÷ one-line (goal ≤ 1.3).

    python benchmarks/first_paint.py                # 5 repeats of each
    python benchmarks/first_paint.py --repeats 2    # quicker
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as common  # noqa: E402

APP_CHECK = """() => {
  const app = document.querySelector(%r);
  if (!app) return false;
  const els = [...document.querySelectorAll(%r)];
  return els.some(e => e.textContent.includes(%r) && e.getClientRects().length > 0
                       && getComputedStyle(e).visibility !== 'hidden');
}"""


def measure(browser, script: Path, text: str, selector: str, timeout: float) -> dict:
    """Launch one server for ``script`` and time it to first paint; stop it."""
    cache = Path(tempfile.mkdtemp(prefix="hpe-bench-paint-")) / "cache"
    cache.mkdir()
    port = common.free_port()
    url = f"http://127.0.0.1:{port}/"
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    check = APP_CHECK % (common.READY_SELECTOR, selector, text)
    t0 = time.monotonic()
    proc = common.spawn_streamlit(script, port, cache, cache / "streamlit.log")
    try:
        deadline = t0 + timeout
        common.goto_with_retries(page, url, deadline)
        t_http = time.monotonic()
        page.wait_for_function(
            check, polling="raf", timeout=max(1.0, deadline - time.monotonic()) * 1000
        )
        t_paint = time.monotonic()
    finally:
        context.close()
        common.stop(proc)
        common.remove_cache(cache)
    return {"total": t_paint - t0, "server": t_http - t0, "page": t_paint - t_http}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5, help="launches of each (5)")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds per launch (60)")
    parser.add_argument("--no-warmup", action="store_true", help="skip the untimed warm-up")
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="hpe-bench-oneline-"))
    oneline = tmp / "hello.py"
    oneline.write_text('import streamlit as st\nst.write("hello")\n')
    targets = {
        "app": (common.ROOT / "app.py", "Hyperparameter Explorer", "h1"),
        "one_line": (oneline, "hello", "[data-testid='stMarkdownContainer'] p"),
    }
    results: dict[str, list[dict]] = {name: [] for name in targets}
    rows = []
    with common.chromium() as browser:
        if not args.no_warmup:  # page cache of Python files, the browser's first context
            for script, text, sel in targets.values():
                measure(browser, script, text, sel, args.timeout)
            print("warm-up done", flush=True)
        for i in range(args.repeats):
            order = ["app", "one_line"] if i % 2 == 0 else ["one_line", "app"]
            for name in order:
                script, text, sel = targets[name]
                r = measure(browser, script, text, sel, args.timeout)
                results[name].append(r)
                rows.append((i + 1, name, r["server"], r["page"], r["total"]))
                print(
                    f"  {i + 1} {name:8s} {r['total']:.3f} s "
                    f"(server {r['server']:.3f} + page {r['page']:.3f})",
                    flush=True,
                )
    common.remove_cache(tmp / "hello.py")  # removes tmp and the file in it

    med = {n: common.median([r["total"] for r in rs]) for n, rs in results.items()}
    med_server = {n: common.median([r["server"] for r in rs]) for n, rs in results.items()}
    med_page = {n: common.median([r["page"] for r in rs]) for n, rs in results.items()}
    ratio = med["app"] / med["one_line"]
    print()
    print(common.table(["repeat", "page", "spawn->HTTP s", "HTTP->paint s", "total s"], rows))
    print()
    for n in targets:
        print(f"median {n:8s} {med[n]:.3f} s (server {med_server[n]:.3f} + page {med_page[n]:.3f})")
    print(f"ratio app/one-line {ratio:.3f}; goal <= 1.3: {'met' if ratio <= 1.3 else 'NOT met'}")
    common.emit(
        {
            "benchmark": "first_paint",
            "repeats": args.repeats,
            "app_s": round(med["app"], 3),
            "one_line_s": round(med["one_line"], 3),
            "app_server_s": round(med_server["app"], 3),
            "app_page_s": round(med_page["app"], 3),
            "one_line_server_s": round(med_server["one_line"], 3),
            "one_line_page_s": round(med_page["one_line"], 3),
            "app_runs_s": [round(r["total"], 3) for r in results["app"]],
            "one_line_runs_s": [round(r["total"], 3) for r in results["one_line"]],
            "ratio_app_over_one_line": round(ratio, 4),
            "goal_met": ratio <= 1.3,
        }
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
