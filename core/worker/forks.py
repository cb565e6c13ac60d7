"""Fork a run mid-training: continue a trial from one of its epochs with some settings changed.

A fork is a new trial linked to its parent and the epoch it continues after. The worker
(``core.engine.training`` with ``core.engine.checkpoints``) loads the parent's checkpoint of that
epoch and trains the remaining epochs; a fork that changes nothing repeats the parent's next epochs
exactly. Only settings that make sense to change mid-training may change: the learning rate and its
schedule, the optimizer, the batch size, dropout, augmentation, regularization and the number of
epochs. This module checks a fork and queues it; it imports no TensorFlow, so pages and the CLI use
it directly.

Epochs are numbered from 1 here, as people see them: forking "from epoch 3" keeps the
parent's first three epochs and trains epoch 4 onwards.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.data.checks import launch_problems
from core.data.names import change_words, run_title
from core.spec.config import ConfigError, RunConfig, joined
from core.spec.params import FORKABLE_KEYS, PARAM_BY_KEY
from core.store import Store, Trial
from core.store.checkpoint_files import checkpoint_bytes, checkpoint_dir, saved_epochs
from core.store.settings import format_bytes


@dataclass(frozen=True)
class ForkPlan:
    """A checked fork, ready to queue.

    Attributes:
        parent: The trial forked.
        epoch: The parent's epoch (1-based) the fork continues after.
        config: The fork's whole config.
        changes: The keys that differ from the parent, with their new values.
        name: The name of the fork's study.
    """

    parent: Trial
    epoch: int
    config: RunConfig
    changes: dict[str, Any]
    name: str


def fork_points(trial: Trial, root: Path | None = None) -> list[int]:
    """Return the epochs (1-based) a trial can be forked from: those with a checkpoint.

    The last epoch is included: a fork from it trains on when it raises ``epochs``.
    """
    return [e + 1 for e in saved_epochs(checkpoint_dir(trial, root))]


def checkpoint_line(trial: Trial, root: Path | None = None) -> str | None:
    """Say which epochs (1-based) of a trial keep a checkpoint and what they take on disk.

    E.g. ``Checkpoints of epochs 3, 18, 19, 20 · 1.21 GB``; None when it keeps none.
    """
    points = fork_points(trial, root)
    if not points:
        return None
    size = format_bytes(checkpoint_bytes(checkpoint_dir(trial, root)))
    many = "s" if len(points) > 1 else ""
    return f"Checkpoint{many} of epoch{many} {', '.join(map(str, points))} · {size}"


def plan_fork(
    store: Store,
    parent_id: int,
    epoch: int,
    changes: Mapping[str, Any],
    root: Path | None = None,
) -> ForkPlan:
    """Check a fork of trial ``parent_id`` from ``epoch`` with ``changes``.

    Args:
        store: The store holding the parent.
        parent_id: The trial to fork.
        epoch: The parent's epoch (1-based) to continue after; it needs a checkpoint.
        changes: Settings to change (keys of ``FORKABLE_KEYS``), as a person typed or picked
            them; values are checked like any run config's.
        root: The cache folder; defaults to ``paths.cache_dir()``.

    Returns:
        The plan, with only the keys whose value really changes in ``changes``.

    Raises:
        ConfigError: Naming the field and what to do, for a missing parent, an epoch with
            no checkpoint, a key that cannot change mid-training, or a bad value: every
            problem at once (the first, with the others in ``more``).
    """
    try:
        parent = store.trial(int(parent_id))
    except (KeyError, ValueError, TypeError):
        raise ConfigError(
            "trial", f"there is no run #{parent_id}; pick one from the runs list."
        ) from None
    problems: list[ConfigError] = []
    points = fork_points(parent, root)
    if not points:
        problems.append(
            ConfigError(
                "epoch",
                f"run #{parent.id} has no checkpoints to fork from (it kept none or has not "
                "finished an epoch yet).",
            )
        )
    elif epoch not in points:
        problems.append(ConfigError("epoch", missing_checkpoint(store, parent, epoch, points)))
    for key in changes:
        if key not in FORKABLE_KEYS:
            what = "is not a setting" if key not in PARAM_BY_KEY else "cannot change mid-training"
            problems.append(
                ConfigError(
                    key,
                    f"{what}; a fork may change: {', '.join(FORKABLE_KEYS)}. "
                    "Start a new run to change anything else.",
                )
            )
    base = parent.run_config
    forkable = {k: v for k, v in changes.items() if k in FORKABLE_KEYS}
    # A fork trains on the parent's data again: it must still be there.
    config, found = launch_problems({**base.to_dict(), **forkable})
    problems += found
    epochs = forkable.get("epochs", base.epochs)
    if "epochs" not in {p.field for p in found} and isinstance(epochs, int) and epochs <= epoch:
        problems.append(
            ConfigError(
                "epochs",
                f"is {epochs}, so nothing is left to train after epoch {epoch}; "
                f"set epochs above {epoch}.",
            )
        )
    if problems:
        raise joined(problems)
    assert config is not None  # no problems: the config was checked
    changed = changes_between(base.to_dict(), config.to_dict())
    return ForkPlan(parent, epoch, config, changed, fork_name(parent, epoch, changed))


def missing_checkpoint(store: Store, parent: Trial, epoch: int, points: list[int]) -> str:
    """Say that ``epoch`` (1-based) of ``parent`` has no checkpoint, and which epochs do.

    An epoch the run finished lost its checkpoint to the run's disk budget
    (``core.store.checkpoint_files``); a later one was never reached.
    """
    shown = ", ".join(str(p) for p in points)
    finished = max((e.epoch + 1 for e in store.epochs(parent.id)), default=0)
    if 1 <= epoch <= finished:
        said = f"epoch {epoch} of run {parent.id} has no checkpoint any more; these epochs do"
    else:
        said = f"run {parent.id} has not finished epoch {epoch}; these epochs have a checkpoint"
    return f"{said}: {shown}"


def queue_fork(store: Store, plan: ForkPlan, reserve_for: int | None = None) -> tuple[int, int]:
    """Queue a checked fork as a new trial linked to its parent.

    Args:
        store: The store.
        plan: From :func:`plan_fork`.
        reserve_for: If given, the process that trains the fork itself (the CLI).

    Returns:
        The fork's study id and trial id.
    """
    return store.fork_trial(plan.parent.id, plan.epoch - 1, plan.config, plan.name, reserve_for)


def fork_name(parent: Trial, epoch: int, changes: Mapping[str, Any]) -> str:
    """The name of a fork's study: ``mlp on digits · from run 4 after epoch 3 · lr 0.0001``."""
    return (
        f"{run_title(parent.config)} · from run {parent.id} after epoch {epoch} · "
        f"{describe_changes(changes)}"
    )


def describe_changes(changes: Mapping[str, Any]) -> str:
    """The changes as a run's name writes them (``lr 0.0001 · dropout 0.4``), or ``no change``."""
    return " · ".join(change_words(changes)) or "no change"


def changes_between(before: Mapping[str, Any], after: Mapping[str, Any]) -> dict[str, Any]:
    """Return the forkable settings whose value differs from ``before`` to ``after``."""
    return {k: after.get(k) for k in FORKABLE_KEYS if after.get(k) != before.get(k)}


def children(store: Store, trial_id: int) -> list[Trial]:
    """Return the forks of a trial (not its promotions), newest first."""
    return [t for t in store.trials(parent_id=trial_id) if t.fork_epoch is not None]


def lineage(store: Store, trial: Trial) -> list[tuple[Trial, int | None]]:
    """Return a trial's forebears, oldest first, each with the epoch (0-based) used from it.

    The last item is the trial itself with None; a trial that is no fork gives just itself.
    Each earlier item is a parent with the epoch its child continued after, so a chart can
    draw each ancestor's curve up to that epoch and the child's from there.
    """
    chain: list[tuple[Trial, int | None]] = [(trial, None)]
    seen = {trial.id}
    while is_fork(trial):
        parent = parent_of(store, trial)
        if parent is None or parent.id in seen:
            break
        chain.insert(0, (parent, trial.fork_epoch))
        seen.add(parent.id)
        trial = parent
    return chain


def is_fork(trial: Trial) -> bool:
    """Return whether a trial continues another from a checkpoint."""
    return trial.parent_id is not None and trial.fork_epoch is not None


def parent_of(store: Store, trial: Trial) -> Trial | None:
    """The trial a fork continues, or None for no fork or a parent since deleted."""
    if not is_fork(trial):
        return None
    try:
        return store.trial(trial.parent_id)
    except KeyError:
        return None
