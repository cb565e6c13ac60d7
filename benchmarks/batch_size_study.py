"""Report 003's batch-size study on digits: 5 batch sizes × 3 repeats, the Compare page's table.

    python benchmarks/batch_size_study.py [--epochs 10] [--repeats 3] [--values 20,40,100,300,1149]

Runs ``python -m core sweep`` (the same code the Compare page queues) in a temporary cache
folder, with the Train page's default model (the small CNN) on the embedded digits dataset;
the default values are the Compare page's own (report 003's 20, 100, 1000, 10000 and the full
training set, scaled to digits' 1,149 training images). Then prints the table the page shows
(per value: runs, mean ± std of test accuracy, test loss, best validation accuracy, median
seconds per epoch, total seconds, images per second, train − validation gap, peak memory), the
page's written summary (each value best, tied or worse: Welch's t-test between every pair of
values, Holm-corrected), and one JSON line.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import ROOT, emit, remove_cache, table, temp_cache  # noqa: E402

from core.analysis.sweep_numbers import run_frame, value_frame  # noqa: E402
from core.analysis.sweep_summary import written_summary  # noqa: E402
from core.data.checks import train_size  # noqa: E402
from core.spec.config import RunConfig  # noqa: E402
from core.spec.sweeps import SweepSpec, default_batch_sizes  # noqa: E402
from core.store import Store, paths  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=RunConfig().epochs)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--values", default=",".join(map(str, default_batch_sizes(train_size(RunConfig()))))
    )
    args = parser.parse_args()
    root = temp_cache("batch-size")
    try:
        start = time.perf_counter()
        out = subprocess.run(
            [sys.executable, "-m", "core", "sweep", "--param", "batch_size",
             "--values", args.values, "--repeats", str(args.repeats),
             "--epochs", str(args.epochs), "--json"],
            cwd=ROOT, capture_output=True, text=True, check=False,
        )  # fmt: skip
        wall = time.perf_counter() - start
        if out.returncode != 0:
            sys.stderr.write(out.stderr[-4000:])
            sys.exit(out.returncode)
        summary = json.loads(out.stdout.strip().splitlines()[-1])
        store = Store(paths.store_path(root))
        spec = SweepSpec.from_dict(store.study(summary["study"]).spec)
        trials = store.trials(study_ids=[summary["study"]])
        runs = run_frame(spec, trials, {t.id: store.epochs(t.id) for t in trials})
        values = value_frame(spec, runs)
        print(f"digits, cnn (Train defaults), {args.epochs} epochs, {args.repeats} repeats")
        print(table(*_rows(values)))
        print()
        for line in written_summary(runs, spec.title):
            print(line.replace("**", ""))
        print(f"\nwhole sweep: {wall:.0f} s wall-clock for {len(trials)} runs")
        emit(
            {
                "benchmark": "batch_size_study",
                "dataset": "digits",
                "epochs": args.epochs,
                "repeats": args.repeats,
                "wall_s": round(wall, 1),
                "values": summary["values"],
            }
        )
    finally:
        remove_cache(root)


def _rows(values) -> tuple[list[str], list[list[object]]]:  # noqa: ANN001 - a pandas frame
    headers = ["batch", "runs", "test acc", "± std", "test loss", "best val acc",
               "s/epoch", "total s", "images/s", "train-val gap", "peak MB"]  # fmt: skip
    rows = [
        [
            r["value"],
            r["runs"],
            _pct(r["test_accuracy"]),
            _pct(r["test_accuracy_std"]),
            _num(r["test_loss"]),
            _pct(r["best_val_accuracy"]),
            _num(r["seconds_per_epoch"]),
            _num(r["total_seconds"], 1),
            _num(r["images_per_second"], 0),
            _pct(r["train_val_gap"]),
            _num(r["peak_memory_mb"], 0),
        ]  # fmt: skip
        for _, r in values.iterrows()
    ]
    return headers, rows


def _pct(value: float | None) -> str:
    return "-" if value is None or value != value else f"{value:.1%}"


def _num(value: float | None, digits: int = 3) -> str:
    return "-" if value is None or value != value else f"{value:.{digits}f}"


if __name__ == "__main__":
    main()
