"""How right the run diagnosis is, on the labelled corpus of real digits runs.

Runs ``core.analysis.diagnosis.diagnose`` over every run of the corpus that
``benchmarks/diagnosis_corpus.py`` trained (nothing is trained here; it takes a second) and
prints the confusion table (rows: the runs' true class; columns: the findings they got, a
run may get several, ``none`` when it got none) and each finding's precision and recall.
With ``--runs`` it also lists every run with what it got, and each message.

    python benchmarks/diagnosis_table.py
    python benchmarks/diagnosis_table.py --runs
    python benchmarks/diagnosis_table.py --corpus /tmp/corpus.json

The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import _common as common  # noqa: E402
from benchmarks.diagnosis_corpus import OUT  # noqa: E402
from core.analysis.diagnosis_check import read_corpus, score  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=OUT, help=f"default: {OUT}")
    parser.add_argument("--runs", action="store_true", help="list every run and its findings")
    args = parser.parse_args()
    runs = read_corpus(args.corpus)
    report = score(runs)
    if args.runs:
        for run in runs:
            flags = report.flags[run.name]
            got = ", ".join(f.kind for f in flags) or "none"
            mark = "" if {f.kind for f in flags} == run.labels else "  <-- wrong"
            print(f"{run.name:28s} {run.cls:12s} -> {got}{mark}")
            for flag in flags:
                print(f"    epoch {flag.epoch + 1}: {flag.message}")
        print()
    columns = report.columns
    rows = [
        [cls, count, *(report.confusion[cls][c] or "." for c in columns)]
        for cls, count in report.classes.items()
    ]
    print(common.table(["true class", "runs", *columns], rows))
    print()
    shown = [
        [
            s.kind,
            s.true_positives,
            s.false_positives,
            s.false_negatives,
            "n/a" if s.precision is None else f"{s.precision:.2f}",
            "n/a" if s.recall is None else f"{s.recall:.2f}",
        ]
        for s in report.scores
    ]
    print(common.table(["finding", "right", "wrong", "missed", "precision", "recall"], shown))
    healthy = report.confusion.get("healthy", {})
    common.emit(
        {
            "benchmark": "diagnosis_table",
            "runs": len(runs),
            "classes": report.classes,
            "healthy_without_finding": healthy.get("none", 0),
            "precision": {s.kind: _round(s.precision) for s in report.scores},
            "recall": {s.kind: _round(s.recall) for s in report.scores},
        }
    )
    return 0


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


if __name__ == "__main__":
    sys.exit(main())
