"""Every page holds at 800 and at 1400 px: no label, metric, button, value or chart title is cut
or broken mid-word, with a finished run, sweep and search in the store.

Screenshots of every page at both widths are saved in the test's folder (printed on failure).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from core.spec.config import RunConfig
from core.store import Status, Store
from tests.app.conftest import write_sweep
from tests.app.tune_fixtures import write_search
from tests.e2e.conftest import READY

pytestmark = pytest.mark.e2e

PAGES = ("", "train", "compare", "tune", "runs")
WIDTHS = (800, 1400)

# Opens every expander, then lists what does not fit: [kind, how, text].
OPEN_EXPANDERS = """() => document.querySelectorAll('[data-testid="stExpander"] details')
  .forEach(d => { if (!d.open) d.querySelector('summary').click(); })"""
PROBLEMS = """() => {
  const problems = [];
  const text = e => (e.innerText || e.value || '').trim().replace(/\\s+/g, ' ').slice(0, 60);
  const kinds = [
    ['label', '[data-testid="stWidgetLabel"] p'],
    ['metric', '[data-testid="stMetricValue"] > div, [data-testid="stMetricLabel"] p'],
    ['button', 'button p'],
    ['value', '[data-baseweb="select"] [value], input[type="text"], input[type="number"]'],
    ['tab', '[data-baseweb="tab"] p'],
  ];
  for (const [kind, query] of kinds) {
    for (const e of document.querySelectorAll(query)) {
      if (!e.offsetParent || !text(e)) continue;
      if (e.scrollWidth > e.clientWidth + 1) problems.push([kind, 'cut', text(e)]);
      const walker = document.createTreeWalker(e, NodeFilter.SHOW_TEXT);
      for (let node = walker.nextNode(); node; node = walker.nextNode()) {
        for (const m of node.data.matchAll(/\\S+/g)) {
          const range = document.createRange();
          range.setStart(node, m.index);
          range.setEnd(node, m.index + m[0].length);
          const lines = new Set([...range.getClientRects()].filter(r => r.width > 0)
            .map(r => Math.round(r.top)));
          if (lines.size > 1) problems.push([kind, 'broken mid-word', m[0]]);
        }
      }
    }
  }
  for (const plot of document.querySelectorAll('.js-plotly-plot')) {
    const box = plot.getBoundingClientRect();
    for (const t of plot.querySelectorAll('.gtitle, .g-xtitle text, .g-ytitle text')) {
      const r = t.getBoundingClientRect();
      if (r.width && (r.left < box.left - 1 || r.right > box.right + 1)) {
        problems.push(['chart title', 'cut', t.textContent]);
      }
    }
  }
  const page = document.documentElement;
  if (page.scrollWidth > page.clientWidth + 1) problems.push(['page', 'wider than the window', '']);
  return problems;
}"""


def _finished_run(store: Store) -> None:
    cfg = RunConfig(batch_size=32, learning_rate=0.003)
    _, (tid,) = store.create_study("cnn · batch 32 on digits", "single", [cfg], reserve_for=1)
    for epoch, acc in enumerate([0.6, 0.8, 0.9]):
        metrics = {"loss": 1 - acc, "accuracy": acc, "val_loss": 1.1 - acc, "val_accuracy": acc}
        store.add_epoch(tid, epoch, metrics, 1.2)
    store.finish_trial(tid, Status.COMPLETED, {"test_accuracy": 0.88, "test_loss": 0.35})


def test_every_page_fits_at_800_and_1400_px(
    store: Store, app_url: str, browser, tmp_path: Path
) -> None:
    write_search(store)
    write_sweep(store, {"batch_size": [32, 128]}, [0.81, 0.86], repeats=1)
    _finished_run(store)
    found = {}
    for width in WIDTHS:
        page = browser.new_page(viewport={"width": width, "height": 1000})
        for name in PAGES:
            page.goto(f"{app_url}/{name}")
            page.wait_for_selector(READY, timeout=60_000)
            page.evaluate(OPEN_EXPANDERS)
            page.wait_for_selector(READY, timeout=30_000)
            page.wait_for_timeout(300)  # expanders finish opening
            problems = page.evaluate(PROBLEMS)
            page.screenshot(path=str(tmp_path / f"{name or 'home'}-{width}.png"), full_page=True)
            if problems:
                found[f"{name or 'home'} at {width} px"] = problems
        page.close()
    assert not found, f"{found} (screenshots in {tmp_path})"
