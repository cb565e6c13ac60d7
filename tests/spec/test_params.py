"""The parameter table: the bounds of every number, and the step its control moves by."""

from __future__ import annotations

from core.spec.params import PARAM_BY_KEY, PARAMS


def test_every_number_steps_within_its_range_and_other_settings_have_no_step() -> None:
    for param in PARAMS:
        if param.kind not in ("int", "float"):
            assert param.step is None, param.key
            continue
        assert param.step > 0, param.key
        if param.low is not None and param.high is not None:
            assert param.low + param.step <= param.high, param.key
    assert PARAM_BY_KEY["epochs"].step == 1 and isinstance(PARAM_BY_KEY["epochs"].step, int)
    assert PARAM_BY_KEY["learning_rate"].step == 1e-4  # a log-scale number takes small steps
    assert PARAM_BY_KEY["dropout"].step == 0.05


def test_every_number_has_both_bounds() -> None:
    """No value reaches training that it cannot handle (a decay every 2**63 epochs, say)."""
    for param in PARAMS:
        if param.kind in ("int", "float", "ints"):
            assert param.low is not None and param.high is not None, param.key
            assert param.low < param.high, param.key
