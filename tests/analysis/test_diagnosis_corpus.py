"""The diagnosis on real runs with known causes: every finding right, and healthy runs left alone.

Reads the stored corpus (``tests/analysis/data/diagnosis_corpus.json``, trained by
``benchmarks/diagnosis_corpus.py``); nothing is trained here. ``benchmarks/diagnosis_table.py``
prints the same numbers as a table.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from core.analysis import diagnosis
from core.analysis.diagnosis_check import CorpusRun, Report, read_corpus, score
from core.store import Epoch

CORPUS = Path(__file__).resolve().parent / "data" / "diagnosis_corpus.json"
PRECISION, RECALL = 0.9, 0.8


@pytest.fixture(scope="module")
def runs() -> list[CorpusRun]:
    return read_corpus(CORPUS)


@pytest.fixture(scope="module")
def report(runs: list[CorpusRun]) -> Report:
    return score(runs)


def test_the_corpus_is_small_and_covers_every_cause(runs: list[CorpusRun]) -> None:
    assert CORPUS.stat().st_size < 1_000_000
    classes = {run.cls for run in runs}
    assert classes >= {"healthy", "lr_too_high", "lr_too_low", "overfitting", "plateau"}
    for cls in ("healthy", "lr_too_high", "lr_too_low", "overfitting", "plateau"):
        assert sum(run.cls == cls for run in runs) >= 8, cls
    assert len(runs) >= 50


@pytest.mark.parametrize("kind", list(diagnosis.LABELS))
def test_each_finding_is_precise_and_finds_most_of_its_runs(report: Report, kind: str) -> None:
    (found,) = [s for s in report.scores if s.kind == kind]
    wrong = [name for name, flags in report.flags.items() if kind in {f.kind for f in flags}]
    assert found.precision is None or found.precision >= PRECISION, wrong
    assert found.recall is None or found.recall >= RECALL, found


def test_healthy_runs_get_no_finding_at_all(runs: list[CorpusRun], report: Report) -> None:
    healthy = [run for run in runs if run.cls == "healthy"]
    assert healthy
    assert {run.name: report.flags[run.name] for run in healthy if report.flags[run.name]} == {}


def test_a_fork_at_a_ten_times_lower_rate_is_judged_on_its_own_epochs(
    runs: list[CorpusRun],
) -> None:
    forks = [run for run in runs if run.fork]
    assert forks
    for run in forks:
        after = run.fork["after_epoch"]
        assert run.epochs[0].epoch == after  # its own epochs only, numbered on from the parent
        assert run.config["learning_rate"] == 1e-4
        assert run.diagnose() == []


def test_concatenated_executions_are_not_read_as_restarts(runs: list[CorpusRun]) -> None:
    # A search trial with two executions stores them one after the other, numbered on. Read as
    # one run, the second execution's start from fresh weights looks like an explosion.
    first, second = [run for run in runs if run.name.startswith("mlp-default-s")][:2]
    per = int(first.config["epochs"])
    rows = first.epochs + [Epoch(0, per + e.epoch, e.metrics, 0.0, 0.0) for e in second.epochs]
    assert diagnosis.diagnose(rows, per_execution=per) == []
    assert diagnosis.diagnose(rows) != []


def test_every_message_names_the_epoch_its_flag_is_pinned_to(report: Report) -> None:
    for name, flags in report.flags.items():
        for flag in flags:
            assert f"epoch {flag.epoch + 1}" in flag.message, (name, flag.message)
