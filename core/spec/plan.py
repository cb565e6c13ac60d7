"""What a launch becomes in the store: a study of one or more trials, each with its config.

A single run is a study of one trial. A run with ``folds = k`` is a *k-fold* study of k
trials; trial number i trains with fold i held out for validation (``core.analysis.folds``
sums the folds up). Names a person reads (``core.data.names.run_title``) are given by the
caller: they may need to look at a folder on disk, and nothing here does.
"""

from __future__ import annotations

from dataclasses import dataclass

from core.spec.config import RunConfig

# The study kind of a promotion: a finished run trained again on train + validation.
PROMOTE_KIND = "promote"


@dataclass(frozen=True)
class Plan:
    """A study to create: its name, kind and one config per trial."""

    name: str
    kind: str
    configs: list[RunConfig]


def plan_run(cfg: RunConfig, name: str) -> Plan:
    """Turn one config into the study that runs it (k trials when ``folds`` is k > 1)."""
    if cfg.folds > 1:
        return Plan(f"{name} · {cfg.folds}-fold", "kfold", [cfg] * cfg.folds)
    return Plan(name, "single", [cfg])
