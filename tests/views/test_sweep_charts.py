"""The sweep's bars and table carry each value's verdict against the best."""

from __future__ import annotations

import pandas as pd
import pytest

from core.analysis.sweep_summary import verdict_frame
from core.spec.config import RunConfig
from core.spec.sweeps import plan_sweep
from core.views.sweep_charts import bars_figure, heatmap_figure, verdict_table


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


def test_the_grids_colour_bar_reads_in_percent_as_its_cells_do() -> None:
    _, spec = plan_sweep(RunConfig(model="mlp"), {"batch_size": [32, 64], "dropout": [0.1, 0.5]})
    values = pd.DataFrame({"order": [0, 1, 2, 3], "test_accuracy": [0.8, 0.85, 0.9, 0.95]})
    (grid,) = heatmap_figure(spec, values).data
    assert grid.colorbar.tickformat == ".0%"
    assert [row[0] for row in grid.text] == ["80.0%", "90.0%"]
    (losses,) = heatmap_figure(
        spec, values.rename(columns={"test_accuracy": "test_loss"}), "test_loss"
    ).data
    assert losses.colorbar.tickformat is None
