"""Two runs on the same test images: the difference in accuracy and how sure it is.

A fork and its parent are tested on the very same images, so they are compared image by
image: the difference in accuracy is the share of images only the fork got right minus the
share only the parent did, and its 95% interval comes from resampling the images
(``scipy.stats.bootstrap`` with ``paired=True``). This is much narrower than two separate
intervals, which treat the two scores as if they came from different images. McNemar's exact
test (a binomial test on the images the two disagree on) gives the p-value.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from core.spec.hits import unpack_hits
from core.store import Trial

ALPHA = 0.05
RESAMPLES = 2000


@dataclass(frozen=True)
class PairedDifference:
    """``first`` minus ``second`` in accuracy on the same test images.

    Attributes:
        images: Test images both were scored on.
        first: Accuracy of the first run there.
        second: Accuracy of the second run there.
        diff: ``first - second``, a fraction (0.012 is 1.2 percentage points).
        low: Lower end of the 95% interval of ``diff``.
        high: Upper end.
        only_first: Images only the first got right.
        only_second: Images only the second got right.
        p_value: McNemar's exact test of ``diff`` = 0.
    """

    images: int
    first: float
    second: float
    diff: float
    low: float
    high: float
    only_first: int
    only_second: int
    p_value: float

    @property
    def real(self) -> bool:
        """Whether the interval leaves out 0: a difference the test images can show."""
        return self.low > 0 or self.high < 0

    def sentence(self, first: str, second: str) -> str:
        """One line for people: both scores, the difference with its interval, the verdict."""
        points = f"{self.diff * 100:+.1f} percentage points".replace("-", "−")
        ci = f"95% CI {self.low * 100:+.1f} to {self.high * 100:+.1f}".replace("-", "−")
        verdict = (
            "a real difference"
            if self.real
            else "not a clear difference, the test images cannot tell these apart"
        )
        return (
            f"{first[:1].upper()}{first[1:]} scored {self.first:.1%} and {second} "
            f"{self.second:.1%} on the same {self.images:,} test images: {points} ({ci}; "
            f"{self.only_first} images only {first} got right, {self.only_second} only "
            f"{second}): {verdict}."
        )


def paired_difference(first: Trial, second: Trial) -> PairedDifference | None:
    """Compare two trials image by image on their test set.

    Returns:
        The difference, or None when either kept no per-image results or they were not
        scored on the same number of test images (another test set).
    """
    a = unpack_hits(first.results.get("test_hits"))
    b = unpack_hits(second.results.get("test_hits"))
    if a is None or b is None or a.size != b.size or a.size == 0:
        return None
    return compare_hits(a, b)


def compare_hits(a: np.ndarray, b: np.ndarray, seed: int = 0) -> PairedDifference:
    """The paired difference of two boolean arrays of hits on the same images."""
    from scipy import stats  # only when two runs are compared

    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    only_a, only_b = int(np.sum((a == 1) & (b == 0))), int(np.sum((a == 0) & (b == 1)))
    diff = float(a.mean() - b.mean())
    if only_a + only_b == 0:  # the same images right: no resample can differ
        low = high = 0.0
        p_value = 1.0
    else:
        found = stats.bootstrap(
            (a, b),
            lambda x, y, axis=-1: np.mean(x, axis=axis) - np.mean(y, axis=axis),
            paired=True,
            vectorized=True,
            n_resamples=RESAMPLES,
            confidence_level=1 - ALPHA,
            method="percentile",
            random_state=np.random.default_rng(seed),
        )
        low, high = (float(v) for v in found.confidence_interval)
        p_value = float(stats.binomtest(only_a, only_a + only_b).pvalue)
    return PairedDifference(
        images=int(a.size),
        first=float(a.mean()),
        second=float(b.mean()),
        diff=diff,
        low=low,
        high=high,
        only_first=only_a,
        only_second=only_b,
        p_value=p_value,
    )
