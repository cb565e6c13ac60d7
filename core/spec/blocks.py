"""Conv blocks and their filters: what the convolutional models would leave unused is refused.

The CNN and the ResNet take one filter count per block or stage (the last repeats when there
are more blocks), so counts beyond the last block would never be used. Each CNN block pools
its input by 2 (``core.engine.models``): once the image is down to one pixel a block has
nothing left to pool, so an image allows only so many blocks. The MLP and transfer models
read neither setting. Both checks return a message, naming the settings by their labels, for
``core.spec.config`` to raise; nothing here needs the disk.
"""

from __future__ import annotations

import math

from core.spec.params import PARAM_BY_KEY

# The models that read conv_blocks and filters, and the one whose every block pools.
CONV_MODELS = ("cnn", "resnet")
POOLING_MODEL = "cnn"


def filters_problem(model: str, conv_blocks: int, filters: tuple[int, ...]) -> str | None:
    """What is wrong with giving ``filters`` to ``conv_blocks`` blocks, or None.

    More counts than blocks would leave the extra counts unused.
    """
    if model not in CONV_MODELS or len(filters) <= conv_blocks:
        return None
    blocks, label = PARAM_BY_KEY["conv_blocks"], PARAM_BY_KEY["filters"].label
    said = f"{label}: {len(filters)} values for {_count(conv_blocks, 'conv block')}; "
    said += f"give {conv_blocks} (one per block)"
    if blocks.high is None or len(filters) <= blocks.high:
        said += f", or set {blocks.label} to {len(filters)}"
    return f"{said}."


def most_blocks(height: int, width: int) -> int:
    """The CNN blocks an image of this size allows: halvings until both sides are 1 pixel.

    A side ``s`` takes ``ceil(log2(s))`` halvings (rounding up, as "same" padding does); the
    longer side decides, since a block still pools it once the shorter is down to 1.
    """
    return max(1, math.ceil(math.log2(max(height, width, 1))))


def blocks_problem(model: str, conv_blocks: int, height: int, width: int) -> str | None:
    """What is wrong with ``conv_blocks`` CNN blocks on ``height`` × ``width`` images, or None.

    Args:
        model: The model key; only the CNN pools in every block.
        conv_blocks: Blocks asked for.
        height, width: The image size the first block sees (after any resizing).
    """
    most = most_blocks(height, width)
    if model != POOLING_MODEL or conv_blocks <= most:
        return None
    label = PARAM_BY_KEY["conv_blocks"].label
    return (
        f"{label}: {height}×{width} images allow at most {_count(most, 'block')} "
        f"(each halves the size); got {conv_blocks}."
    )


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"
