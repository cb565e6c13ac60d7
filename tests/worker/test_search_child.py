"""How a search child decides when to hand the search on to a fresh process."""

from __future__ import annotations

import pytest

from core.store import settings
from core.store.searches import HANDOVER_GROWTH_MIB
from core.worker import search_child


@pytest.mark.parametrize(("cap", "limit"), [("", 1024.0), ("8000", 1024.0), ("1000", 250.0)])
def test_under_a_memory_cap_the_child_hands_on_sooner(
    monkeypatch: pytest.MonkeyPatch, cap: str, limit: float
) -> None:
    monkeypatch.setenv(settings.WORKER_MEMORY_MB, cap)
    assert search_child.handover_limit(HANDOVER_GROWTH_MIB) == limit
    assert search_child.handover_limit(None) is None
