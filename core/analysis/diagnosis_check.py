"""How the diagnosis scores on runs whose answer is known: a confusion table, precision, recall.

A corpus is a JSON file of real runs made with known causes (``benchmarks/diagnosis_corpus.py``
trains one; ``tests/analysis/data/diagnosis_corpus.json`` is the one the rules were set on).
Each run has a class (``healthy``, or the finding its cause should produce), the findings it
should get (``labels``, none for a healthy run), its config and its epochs as the store kept
them. :func:`read_corpus` loads it; :func:`score` runs :func:`~core.analysis.diagnosis.diagnose`
over every run and counts, per finding, the runs it was right and wrong about.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.analysis.diagnosis import LABELS, Flag, diagnose
from core.store import Epoch

NONE = "none"  # the column of runs that got no finding at all


@dataclass(frozen=True)
class CorpusRun:
    """One run of a corpus.

    Attributes:
        name: Its name in the corpus, e.g. ``mlp-adam-1e-6-s0``.
        cls: Its class: ``healthy`` or a finding's kind.
        labels: The findings it should get.
        config: The settings that differ from the defaults.
        epochs: Its epochs, numbered as the store numbered them (a fork's start after the
            epoch it was forked from).
        fork: For a fork, ``{"of": name, "after_epoch": k}``; else None.
    """

    name: str
    cls: str
    labels: frozenset[str]
    config: dict[str, Any]
    epochs: list[Epoch]
    fork: dict[str, Any] | None = None

    def diagnose(self) -> list[Flag]:
        """The run's diagnosis, as a trial with its config would get it."""
        return diagnose(self.epochs, int(self.config.get("epochs", 10)))


@dataclass(frozen=True)
class Score:
    """How one finding did over a corpus.

    Attributes:
        kind: The finding.
        true_positives: Runs labelled with it that got it.
        false_positives: Runs that got it without the label.
        false_negatives: Runs labelled with it that did not get it.
    """

    kind: str
    true_positives: int
    false_positives: int
    false_negatives: int

    @property
    def precision(self) -> float | None:
        """Share of the runs that got it that should have (None if none got it)."""
        raised = self.true_positives + self.false_positives
        return self.true_positives / raised if raised else None

    @property
    def recall(self) -> float | None:
        """Share of the runs that should get it that did (None if none should)."""
        due = self.true_positives + self.false_negatives
        return self.true_positives / due if due else None


@dataclass(frozen=True)
class Report:
    """A corpus's confusion table and each finding's score.

    Attributes:
        classes: The classes, in the corpus's order, with their number of runs.
        confusion: ``confusion[cls][column]``: runs of the class that got the finding
            ``column`` (a run may get several), or no finding at all (``none``).
        scores: Each finding's score, in the order of ``LABELS``.
        flags: Each run's flags, by name.
    """

    classes: dict[str, int]
    confusion: dict[str, dict[str, int]]
    scores: list[Score]
    flags: dict[str, list[Flag]]

    @property
    def columns(self) -> list[str]:
        """The confusion table's columns: every finding, then ``none``."""
        return [*LABELS, NONE]


def read_corpus(path: Path) -> list[CorpusRun]:
    """Read a corpus file (``benchmarks/diagnosis_corpus.py`` writes one).

    Raises:
        ValueError: If the file is not a corpus.
    """
    data = json.loads(Path(path).read_text())
    if not isinstance(data, dict) or not isinstance(data.get("runs"), list):
        raise ValueError(f"{path} is not a diagnosis corpus (no list of runs)")
    return [_run(entry) for entry in data["runs"]]


def score(runs: Sequence[CorpusRun]) -> Report:
    """Diagnose every run of a corpus and count, per finding, what it got right and wrong."""
    classes: dict[str, int] = {}
    confusion: dict[str, dict[str, int]] = {}
    counts = {kind: [0, 0, 0] for kind in LABELS}
    flags: dict[str, list[Flag]] = {}
    for run in runs:
        found = run.diagnose()
        flags[run.name] = found
        kinds = {flag.kind for flag in found}
        classes[run.cls] = classes.get(run.cls, 0) + 1
        row = confusion.setdefault(run.cls, dict.fromkeys([*LABELS, NONE], 0))
        for kind in kinds or {NONE}:
            row[kind] += 1
        for kind, count in counts.items():
            count[0] += kind in kinds and kind in run.labels
            count[1] += kind in kinds and kind not in run.labels
            count[2] += kind not in kinds and kind in run.labels
    scores = [Score(kind, *count) for kind, count in counts.items()]
    return Report(classes, confusion, scores, flags)


def _run(entry: dict[str, Any]) -> CorpusRun:
    epochs = [
        Epoch(0, int(row["epoch"]), {k: v for k, v in row.items() if k != "epoch"}, 0.0, 0.0)
        for row in entry["epochs"]
    ]
    return CorpusRun(
        entry["name"],
        entry["class"],
        frozenset(entry["labels"]),
        dict(entry["config"]),
        epochs,
        entry.get("fork"),
    )
