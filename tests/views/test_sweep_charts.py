"""The sweep's bars and table carry each value's verdict against the best."""

from __future__ import annotations

import pandas as pd
import pytest

from core.analysis.sweep_summary import verdict_frame
from core.views.sweep_charts import bars_figure, verdict_table


def _sweep() -> tuple[pd.DataFrame, pd.DataFrame]:
    accs = {"20": [0.90, 0.91, 0.92], "100": [0.91, 0.90, 0.89], "1000": [0.80, 0.81, 0.82]}
    runs = pd.DataFrame([{"value": v, "test_accuracy": a} for v, xs in accs.items() for a in xs])
    values = pd.DataFrame(
        {
            "order": [0, 1, 2],
            "value": list(accs),
            "runs": [3, 3, 3],
            "test_accuracy": [sum(xs) / 3 for xs in accs.values()],
            "test_accuracy_std": [0.01] * 3,
        }
    )
    return values, verdict_frame(runs)


def test_the_table_puts_each_verdict_and_its_interval_beside_the_value() -> None:
    values, verdicts = _sweep()
    table = verdict_table(values, verdicts, "test_accuracy")
    assert list(table.columns[:5]) == ["value", "runs", "verdict", "diff_vs_best", "ci"]
    assert list(table["verdict"]) == ["best", "tied", "worse"]
    assert table["diff_vs_best"].tolist() == pytest.approx([0.0, -1.0, -10.0])
    assert pd.isna(table["ci"][0]) and table["ci"][2].endswith(" pp")


def test_the_bars_name_each_values_verdict() -> None:
    values, verdicts = _sweep()
    by_value = dict(zip(verdicts["value"], verdicts["verdict"], strict=True))
    bars = bars_figure(values, "test_accuracy", by_value).data[0]
    assert list(bars.text) == ["best", "tied", "worse"]
    assert bars.customdata[1][2] == " · tied"
