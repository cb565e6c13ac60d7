"""Background work for pages: worked out once per key, an older result stands in meanwhile."""

from __future__ import annotations

import threading

from core.views.background import Background


def test_a_result_is_worked_out_once_and_an_older_one_stands_in_meanwhile() -> None:
    gate = threading.Event()
    calls: list[str] = []

    def work(value: str):
        def run() -> str:
            calls.append(value)
            gate.wait(10)
            return value

        return run

    memo: Background[str] = Background()
    gate.set()
    assert memo.get("search 1", ("t1",), work("first"), wait_s=5) == ("first", True)
    gate.clear()
    assert memo.get("search 1", ("t1", "t2"), work("second")) == ("first", False)
    assert memo.get("search 1", ("t1", "t2"), work("again")) == ("first", False)
    assert memo.get("search 2", ("t9",), work("other")) == (None, False)
    gate.set()
    memo.wait(5)
    assert memo.get("search 1", ("t1", "t2"), work("never")) == ("second", True)
    assert sorted(calls) == ["first", "other", "second"]  # each key worked out once


def test_work_that_fails_is_tried_again_on_the_next_ask() -> None:
    memo: Background[int] = Background()
    attempts: list[int] = []

    def flaky() -> int:
        attempts.append(1)
        if len(attempts) == 1:
            raise ValueError("no")
        return 7

    assert memo.get("s", 1, flaky, wait_s=5) == (None, False)
    assert memo.get("s", 1, flaky, wait_s=5) == (7, True)
