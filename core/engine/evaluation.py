"""Per-class evaluation of a trained model on held-out images: numbers and an image grid.

The worker calls these after the test evaluation (on the validation images of a run that has
no test set); the results are plain lists and floats, so they are stored as JSON with the
trial. Macro F1 comes with a 95% bootstrap interval (``scipy.stats.bootstrap``, the images
resampled with replacement). Nothing here imports TensorFlow or Streamlit.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont
from scipy import stats
from sklearn.metrics import confusion_matrix, precision_recall_fscore_support

from core.spec.scores import CONFIDENCE

# Bootstrap resamples of the macro F1 interval, drawn with a fixed seed so that a run's
# interval is the same each time it is evaluated.
BOOTSTRAP_RESAMPLES = 1000
BOOTSTRAP_SEED = 0
MIN_TILE = 64
CAPTION_HEIGHT = 14
GRID_COLUMNS = 6
PADDING = 4
ARROW_WIDTH = 14  # the arrow is drawn: the default font has no "→" glyph
FontType = ImageFont.ImageFont | ImageFont.FreeTypeFont


def evaluate_classes(
    y_true: np.ndarray, probs: np.ndarray, class_names: Sequence[str], split: str = "test"
) -> dict:
    """Confusion matrix, per-class precision, recall, F1 and support, and macro F1's interval.

    Args:
        y_true: True class indices, shape ``(n,)``.
        probs: Predicted class scores, shape ``(n, classes)``; the highest score is the
            prediction.
        class_names: Name of each class, indexed by label.
        split: Which images these are: ``test``, or ``validation`` for a run without a
            test set.

    Returns:
        A JSON-ready dict: ``class_names``; ``split``; ``images`` (n); ``confusion`` (list of
        rows, row = true class, column = predicted class); ``precision``, ``recall``, ``f1``
        and ``support`` (one value per class); ``macro`` (the unweighted means of precision,
        recall and F1, and ``f1_ci``, the 95% bootstrap interval of macro F1 as ``[low,
        high]``, or None for fewer than two images).
    """
    labels = list(range(len(class_names)))
    y_true = np.asarray(y_true).astype(int).ravel()
    y_pred = np.asarray(probs).argmax(axis=1)
    matrix = confusion_matrix(y_true, y_pred, labels=labels)
    precision, recall, f1, support = precision_recall_fscore_support(
        y_true, y_pred, labels=labels, zero_division=0
    )
    interval = macro_f1_interval(y_true, y_pred, len(labels))
    return {
        "class_names": [str(name) for name in class_names],
        "split": split,
        "images": int(len(y_true)),
        "confusion": matrix.astype(int).tolist(),
        "precision": [float(v) for v in precision],
        "recall": [float(v) for v in recall],
        "f1": [float(v) for v in f1],
        "support": [int(v) for v in support],
        "macro": {
            "precision": float(np.mean(precision)),
            "recall": float(np.mean(recall)),
            "f1": float(np.mean(f1)),
            "f1_ci": None if interval is None else list(interval),
        },
    }


def macro_f1_interval(
    y_true: np.ndarray, y_pred: np.ndarray, n_classes: int, seed: int = BOOTSTRAP_SEED
) -> tuple[float, float] | None:
    """The 95% bootstrap interval of macro F1: images resampled with replacement.

    ``scipy.stats.bootstrap`` draws ``BOOTSTRAP_RESAMPLES`` resamples of the (true,
    predicted) pairs and takes the percentile interval of their macro F1.

    Args:
        y_true: True class indices.
        y_pred: Predicted class indices.
        n_classes: Classes (every one counts in the macro mean, as in :func:`evaluate_classes`).
        seed: Seed of the resampling.

    Returns:
        ``(low, high)``, or None for fewer than two images.
    """
    y_true = np.asarray(y_true).astype(np.int64).ravel()
    y_pred = np.asarray(y_pred).astype(np.int64).ravel()
    if len(y_true) < 2:
        return None
    found = stats.bootstrap(
        (y_true, y_pred),
        functools.partial(macro_f1, n_classes=n_classes),
        paired=True,
        vectorized=True,
        n_resamples=BOOTSTRAP_RESAMPLES,
        batch=100,
        confidence_level=CONFIDENCE,
        method="percentile",
        random_state=np.random.default_rng(seed),
    )
    low, high = found.confidence_interval
    return float(low), float(high)


def macro_f1(
    y_true: np.ndarray, y_pred: np.ndarray, n_classes: int, axis: int = -1
) -> np.ndarray | float:
    """Macro F1 of one sample, or of each row of a stack of resamples.

    The same number as scikit-learn's ``f1_score(average="macro", zero_division=0)`` over
    ``labels=range(n_classes)`` (a test holds it to that), worked out from counts so that
    a thousand resamples take milliseconds, not the seconds a thousand ``f1_score`` calls
    take: a class's F1 is ``2 TP / (true + predicted)``, 0 where it has neither.

    Args:
        y_true: True class indices, shape ``(n,)`` or ``(resamples, n)``.
        y_pred: Predicted class indices, the same shape.
        n_classes: Classes.
        axis: The images' axis (``scipy.stats.bootstrap`` passes the last).

    Returns:
        A float for one sample, an array of one value per row for a stack.
    """
    del axis  # the images are always along the last axis here
    truth, guess = np.atleast_2d(y_true), np.atleast_2d(y_pred)
    rows = truth.shape[0]
    offset = (np.arange(rows) * n_classes)[:, None]  # row r counts in its own n_classes bins
    size = rows * n_classes
    hits = np.bincount((truth + offset)[truth == guess], minlength=size)
    true = np.bincount((truth + offset).ravel(), minlength=size)
    predicted = np.bincount((guess + offset).ravel(), minlength=size)
    both = true + predicted
    f1 = np.divide(2 * hits, both, out=np.zeros(size), where=both > 0)
    per_row = f1.reshape(rows, n_classes).mean(axis=1)
    return float(per_row[0]) if np.ndim(y_true) == 1 else per_row


def misclassified_grid(
    x_test: np.ndarray,
    y_true: np.ndarray,
    y_pred: np.ndarray,
    class_names: Sequence[str],
    path: Path | str,
    limit: int = 24,
) -> int:
    """Save a PNG grid of misclassified test images, each captioned "true → predicted".

    Args:
        x_test: Test images ``(n, h, w)`` or ``(n, h, w, c)`` with one (grayscale) or three
            (RGB) channels; uint8, or floats in 0..255: an array, or anything with NumPy's
            ``take(indices, axis=0)`` (a folder's split read from its cache).
        y_true: True class indices.
        y_pred: Predicted class indices.
        class_names: Name of each class, indexed by label.
        path: Where the PNG goes; nothing is written when no image is misclassified.
        limit: At most this many images, the first ones in test order.

    Returns:
        How many images the grid shows (0 when there are no mistakes).
    """
    y_true = np.asarray(y_true).astype(int).ravel()
    y_pred = np.asarray(y_pred).astype(int).ravel()
    wrong = np.flatnonzero(y_true != y_pred)[: max(limit, 0)]
    if len(wrong) == 0:
        return 0
    # ``take`` reads only these images (a folder's test split is read from its cache).
    tiles = [_tile(image) for image in x_test.take(wrong, axis=0)]
    font = ImageFont.load_default()
    captions = [(str(class_names[y_true[i]]), str(class_names[y_pred[i]])) for i in wrong]
    probe = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    text_width = max(
        probe.textlength(t, font=font) + ARROW_WIDTH + probe.textlength(p, font=font)
        for t, p in captions
    )
    cell_w = max(max(t.width for t in tiles), int(text_width) + 2)
    cell_h = max(t.height for t in tiles) + CAPTION_HEIGHT
    columns = min(GRID_COLUMNS, len(tiles))
    rows = -(-len(tiles) // columns)
    grid = Image.new(
        "RGB",
        (columns * (cell_w + PADDING) + PADDING, rows * (cell_h + PADDING) + PADDING),
        "white",
    )
    draw = ImageDraw.Draw(grid)
    for k, (tile, caption) in enumerate(zip(tiles, captions, strict=True)):
        left = PADDING + (k % columns) * (cell_w + PADDING)
        top = PADDING + (k // columns) * (cell_h + PADDING)
        grid.paste(tile, (left + (cell_w - tile.width) // 2, top))
        _caption(draw, (left, top + tile.height + 1), caption, font)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    grid.save(path, format="PNG")
    return len(tiles)


def _tile(image: np.ndarray) -> Image.Image:
    """One image as an RGB tile, upscaled (nearest neighbour) to at least ``MIN_TILE`` px."""
    pixels = np.clip(np.asarray(image, dtype=np.float64), 0, 255).astype(np.uint8)
    if pixels.ndim == 3 and pixels.shape[-1] == 1:
        pixels = pixels[..., 0]
    tile = Image.fromarray(pixels).convert("RGB")
    scale = max(1, -(-MIN_TILE // min(tile.width, tile.height)))
    if scale > 1:
        tile = tile.resize((tile.width * scale, tile.height * scale), Image.Resampling.NEAREST)
    return tile


def _caption(
    draw: ImageDraw.ImageDraw, xy: tuple[int, int], names: tuple[str, str], font: FontType
) -> None:
    """Write "true → predicted" at ``xy``, the arrow drawn as lines."""
    true, predicted = names
    x, y = xy
    draw.text((x, y), true, fill="black", font=font)
    start = x + draw.textlength(true, font=font) + 3
    end = start + ARROW_WIDTH - 6
    middle = y + CAPTION_HEIGHT // 2 - 1
    draw.line([(start, middle), (end, middle)], fill="black")
    draw.line([(end - 3, middle - 3), (end, middle), (end - 3, middle + 3)], fill="black")
    draw.text(
        (x + draw.textlength(true, font=font) + ARROW_WIDTH, y), predicted, fill="black", font=font
    )
