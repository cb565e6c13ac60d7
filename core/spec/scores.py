"""How sure a score is: its value, the images it was measured on and its 95% interval.

Every accuracy the app states comes with the number of images behind it and a 95% interval,
so that 3 right out of 4 reads as what it is (75.0%, 95% CI 30.1–95.4%) and not as a verdict.
An accuracy is a share of images classified right, a binomial proportion: its interval is the
Wilson score interval (``scipy.stats.binomtest(...).proportion_ci(method="wilson")``), which
stays inside 0..1 and keeps its coverage for small counts and for shares near 0 or 1. Macro
F1 has no such formula; its interval is a bootstrap, computed where the predictions are
(``core.engine.evaluation``), and kept with the trial.

SciPy loads only when an interval is computed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

CONFIDENCE = 0.95


@dataclass(frozen=True)
class Score:
    """A score and how sure it is.

    Attributes:
        value: The score, a fraction 0..1 (accuracy, macro F1).
        images: How many images it was measured on (None: not recorded).
        low: Lower end of its 95% interval (None: none known).
        high: Upper end of its 95% interval.
    """

    value: float
    images: int | None = None
    low: float | None = None
    high: float | None = None

    @property
    def ci(self) -> list[float] | None:
        """The 95% interval as ``[low, high]`` (the form JSON output takes), or None."""
        if self.low is None or self.high is None:
            return None
        return [self.low, self.high]

    def text(self) -> str:
        """``97.2% (95% CI 95.1–98.4%, 360 images)``; less where less is known."""
        return format_score(self.value, self.images, self.ci)


def wilson_interval(correct: int, images: int) -> tuple[float, float]:
    """The 95% Wilson score interval of ``correct`` successes out of ``images``.

    Args:
        correct: Images classified right, 0..images.
        images: Images scored, at least 1.

    Returns:
        ``(low, high)``, fractions 0..1. For 3 of 4, about ``(0.301, 0.954)``.

    Raises:
        ValueError: for no images, or a count outside 0..images.
    """
    if images < 1 or not 0 <= correct <= images:
        raise ValueError(f"no interval for {correct} right of {images} images")
    from scipy.stats import binomtest

    found = binomtest(int(correct), int(images)).proportion_ci(
        confidence_level=CONFIDENCE, method="wilson"
    )
    return float(found.low), float(found.high)


def accuracy_score(accuracy: float, images: int | None, ci: Sequence[float] | None = None) -> Score:
    """An accuracy with its interval: the one recorded, else Wilson's from accuracy × images.

    Runs recorded before intervals were kept still have their accuracy and image count; the
    count of right answers is ``round(accuracy × images)``, exactly what was measured.

    Args:
        accuracy: The share of images classified right.
        images: How many images were scored (None or 0: unknown, so no interval).
        ci: The interval recorded with the accuracy, ``[low, high]``, if any.

    Returns:
        The score; without an image count it has no interval.
    """
    if ci is not None and len(ci) == 2:
        return Score(float(accuracy), images or None, float(ci[0]), float(ci[1]))
    if not images or not 0.0 <= accuracy <= 1.0:
        return Score(float(accuracy), images or None)
    low, high = wilson_interval(round(accuracy * images), int(images))
    return Score(float(accuracy), int(images), low, high)


def format_score(value: float, images: int | None, ci: Sequence[float] | None) -> str:
    """A fraction as people read it with what stands behind it.

    ``97.2% (95% CI 95.1–98.4%, 360 images)``; ``97.2% (360 images)`` without an interval;
    ``97.2%`` with neither.
    """
    parts = []
    if ci is not None:
        parts.append(f"95% CI {format_interval(ci)}")
    if images:
        parts.append(f"{images:,} image{'s' if images != 1 else ''}")
    shown = f"{value:.1%}"
    return f"{shown} ({', '.join(parts)})" if parts else shown


def format_interval(ci: Sequence[float]) -> str:
    """An interval of fractions in percent: ``95.1–98.4%``."""
    return f"{ci[0] * 100:.1f}–{ci[1] * 100:.1f}%"
