"""Sizing TensorFlow's thread pools to the cores a worker was given.

Called once in a worker of a pool, after TensorFlow is imported and before it runs anything:
its pools can be sized only before they start.
"""

from __future__ import annotations

import tensorflow as tf


def use_cores(count: int) -> None:
    """Let TensorFlow run each op on ``count`` threads, and up to that many ops at once."""
    tf.config.threading.set_intra_op_parallelism_threads(count)
    tf.config.threading.set_inter_op_parallelism_threads(max(2, count))
