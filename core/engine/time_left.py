"""How long a training run has left, from what its own epochs and batches took.

The first batch of a run carries graph tracing, and an epoch's end carries validation,
checkpoints and logs, so neither the time per batch nor the first epoch says how long an
epoch takes. What does: a whole epoch, from its start to the next one's. Once the run has
finished an epoch, the time left is the typical whole epoch (the first left out once there
are others) times the epochs left, the current one by the batches it has to go. Before that,
it is the time per batch since the first batch, times the batches left; with the epoch's end
still unmeasured it can only be low, so nothing is said until two batches after the first.
A fork or a resumed run counts only the epochs it trains itself.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence


def time_left(
    epoch_seconds: Sequence[float],
    batch: int,
    steps: int,
    epochs_after: int,
    since_first_batch: float,
    batches_since_first: int,
) -> float | None:
    """Seconds left in a run, or None while there is nothing sound to go by.

    Args:
        epoch_seconds: Whole epochs this run has finished, start to start, in order.
        batch: Batches done in the current epoch.
        steps: Batches per epoch.
        epochs_after: Epochs still to train after the current one.
        since_first_batch: Seconds since this run's first batch ended.
        batches_since_first: Batches done since then.
    """
    left_now = max(0, steps - batch) / max(steps, 1)
    if epoch_seconds:
        typical = statistics.median(epoch_seconds[1:] or epoch_seconds)
        return typical * (left_now + epochs_after)
    if batches_since_first < 2:
        return None
    per_batch = since_first_batch / batches_since_first
    return per_batch * (max(0, steps - batch) + epochs_after * steps)
