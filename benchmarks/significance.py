"""How often the Compare page's verdicts are wrong: false-positive rate and power, simulated.

    python benchmarks/significance.py [--simulations 2000] [--seed 0]

Draws sweeps whose answer is known (each value's runs from a normal distribution with a chosen
mean and spread, one draw per seed) and judges them with ``core.analysis.sweep_summary`` (the
code the page and ``python -m core sweep`` use: Welch's t-test between every pair of values,
Holm-corrected, α = 0.05). Where every value has the same mean, any value called ``worse`` is a
false finding: the family-wise false-positive rate should be at most 0.05. Where one value is
worse by a real gap, the power is how often it is called ``worse``. Prints a table and one JSON
line; pure arithmetic, no training (about a minute on two shared cores).
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import emit, table  # noqa: E402

from core.analysis.sweep_summary import ALPHA, Verdict, compare_samples  # noqa: E402


@dataclass(frozen=True)
class Scenario:
    """Sweeps of ``len(means)`` values × ``repeats`` runs; ``sds`` is each value's spread."""

    name: str
    means: tuple[float, ...]
    sds: tuple[float, ...]
    repeats: int
    higher: bool = True  # accuracy; False for time (lower is better)

    @property
    def null(self) -> bool:
        """Every value has the same mean: any ``worse`` is a false positive."""
        return len(set(self.means)) == 1


def _same(k: int, mean: float, sd: float) -> tuple[tuple[float, ...], tuple[float, ...]]:
    return (mean,) * k, (sd,) * k


SCENARIOS = [
    Scenario("equal means, sd 1 point", *_same(4, 0.90, 0.01), repeats=5),
    Scenario("equal means, sd 1 point", *_same(4, 0.90, 0.01), repeats=3),
    Scenario("equal means, sd 1 point", *_same(10, 0.90, 0.01), repeats=3),
    Scenario("equal means, sd 0.2 and 2 points", (0.90,) * 4, (0.002, 0.002, 0.02, 0.02), 5),
    Scenario("equal times, sd 5%", *_same(4, 1.0, 0.05), repeats=3, higher=False),
    Scenario("5-point gap, sd 1.5 points", (0.90, 0.90, 0.90, 0.85), (0.015,) * 4, 5),
    Scenario("5-point gap, sd 1.5 points", (0.90, 0.90, 0.90, 0.85), (0.015,) * 4, 3),
    Scenario("5-point gap, sd 1.5 points", (0.90, 0.85), (0.015,) * 2, 5),
    Scenario("5-point gap, sd 1.5 points", (0.90, 0.85), (0.015,) * 2, 3),
    Scenario("10% slower, sd 2%", (1.0, 1.0, 1.1), (0.02, 0.02, 0.022), 3, higher=False),
]


def rate(scenario: Scenario, simulations: int, seed: int) -> float:
    """False-positive rate (null scenarios) or power (the last value is the worse one)."""
    rng = np.random.default_rng(seed)
    hits = 0
    for _ in range(simulations):
        samples = {
            str(i): rng.normal(m, sd, scenario.repeats)
            for i, (m, sd) in enumerate(zip(scenario.means, scenario.sds, strict=True))
        }
        verdicts = {d.value: d.verdict for d in compare_samples(samples, scenario.higher)}
        if scenario.null:
            hits += Verdict.WORSE in verdicts.values()
        else:
            hits += verdicts[str(len(scenario.means) - 1)] == Verdict.WORSE
    return hits / simulations


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--simulations", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    start = time.perf_counter()
    rows, figures = [], []
    for i, scenario in enumerate(SCENARIOS):
        value = rate(scenario, args.simulations, args.seed + i)
        measure = "false-positive rate" if scenario.null else "power"
        rows.append(
            [scenario.name, len(scenario.means), scenario.repeats, measure, round(value, 3)]
        )
        figures.append(
            {
                "scenario": scenario.name,
                "values": len(scenario.means),
                "repeats": scenario.repeats,
                "measure": measure,
                "rate": round(value, 4),
            }
        )
    print(
        f"{args.simulations} simulated sweeps per scenario; Welch + Holm over all pairs, "
        f"α = {ALPHA}"
    )
    print(table(["scenario", "values", "repeats", "measure", "rate"], rows))
    wall = time.perf_counter() - start
    print(f"\n{wall:.1f} s")
    emit(
        {
            "benchmark": "significance",
            "alpha": ALPHA,
            "simulations": args.simulations,
            "wall_s": round(wall, 1),
            "scenarios": figures,
        }
    )


if __name__ == "__main__":
    main()
