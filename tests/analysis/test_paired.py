"""A fork against its parent on the same test images: differences with known answers."""

from __future__ import annotations

import numpy as np
import pytest

from core.analysis.paired import compare_hits, paired_difference
from core.spec.config import RunConfig
from core.spec.hits import pack_hits, unpack_hits
from core.store import Status, Store


def test_hits_round_trip_through_their_text_form() -> None:
    hits = np.random.default_rng(0).random(361) < 0.9
    packed = pack_hits(hits)
    assert packed["images"] == 361 and len(packed["bits"]) < 70
    assert np.array_equal(unpack_hits(packed), hits)
    assert unpack_hits({"images": 9, "bits": "not base64!"}) is None
    assert unpack_hits(None) is None


def test_the_same_images_right_is_no_difference() -> None:
    hits = np.random.default_rng(1).random(360) < 0.95
    found = compare_hits(hits, hits)
    assert found.diff == 0 and (found.low, found.high) == (0.0, 0.0) and not found.real


def test_a_few_images_either_way_is_not_a_clear_difference() -> None:
    # 3 images only the fork got right, 2 only the parent: +0.3 points on 360 is noise.
    parent = np.ones(360, dtype=bool)
    parent[:20] = False
    fork = parent.copy()
    fork[:3] = True
    fork[100:102] = False
    found = compare_hits(fork, parent)
    assert found.only_first == 3 and found.only_second == 2
    assert found.diff == pytest.approx(1 / 360)
    assert found.low < 0 < found.high and not found.real and found.p_value == 1.0


def test_thirty_more_images_right_is_a_real_difference_the_unpaired_intervals_would_miss() -> None:
    # 92.5% against 90.0%: separate 95% intervals on 360 images overlap widely, but image by
    # image the fork got 9 more right and none fewer.
    parent = np.ones(360, dtype=bool)
    parent[:36] = False
    fork = parent.copy()
    fork[:9] = True
    found = compare_hits(fork, parent)
    assert found.diff == pytest.approx(9 / 360) and found.real and found.low > 0
    assert found.p_value < 0.01
    assert "a real difference" in found.sentence("the fork", "run 1")


def test_trials_compare_only_on_the_same_test_images(store: Store) -> None:
    cfg = RunConfig(model="mlp", epochs=1)
    _, (a, b, c) = store.create_study("s", "sweep", [cfg, cfg, cfg], reserve_for=1)
    rng = np.random.default_rng(2)
    for tid, images in ((a, 360), (b, 360), (c, 200)):
        hits = rng.random(images) < 0.9
        store.finish_trial(tid, Status.COMPLETED, results={"test_hits": pack_hits(hits)})
    assert paired_difference(store.trial(a), store.trial(b)) is not None
    assert paired_difference(store.trial(a), store.trial(c)) is None  # another test set
