"""The memory estimate of one training step, and the refusal it leads to."""

from __future__ import annotations

import keras
import pytest

from core.engine.memory_guard import MEMORY_ENV, check_step_fits, step_bytes
from core.spec.config import ConfigError


def _mlp() -> keras.Model:
    inputs = keras.Input((100,))
    hidden = keras.layers.Dense(50)(inputs)
    return keras.Model(inputs, keras.layers.Dense(10)(hidden))


def test_the_estimate_counts_activations_gradients_and_optimizer_copies() -> None:
    model = _mlp()
    per_sample = 100 + 50 + 10  # the input, then each layer's output
    params = 100 * 50 + 50 + 50 * 10 + 10
    assert step_bytes(model, 32) == 2 * per_sample * 32 * 4 + 4 * params * 4
    # Activations grow with the batch; the weights' share does not.
    assert step_bytes(model, 64) - step_bytes(model, 32) == 2 * per_sample * 32 * 4


def test_a_nested_model_is_counted_inside() -> None:
    inner = _mlp()
    inputs = keras.Input((100,))
    outer = keras.Model(inputs, keras.layers.Dense(3)(inner(inputs)))
    assert step_bytes(outer, 8) > step_bytes(inner, 8)


def test_a_step_over_the_cap_is_refused_naming_batch_size(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    model = _mlp()
    monkeypatch.setenv(MEMORY_ENV, "100000")  # 100 GB: everything fits
    check_step_fits(model, 1_000)
    monkeypatch.setenv(MEMORY_ENV, "1")  # 1 MiB, less than this process already holds
    with pytest.raises(ConfigError, match="batch_size 1000 needs about") as caught:
        check_step_fits(model, 1_000)
    assert caught.value.field == "batch_size" and "0 MiB is free" in caught.value.message


def test_the_message_says_what_fits(monkeypatch: pytest.MonkeyPatch) -> None:
    from core.engine import memory_guard

    model = _mlp()
    monkeypatch.setattr(memory_guard, "_rss_bytes", lambda: 0)
    monkeypatch.setenv(MEMORY_ENV, "1")  # 1 MiB for the whole worker
    with pytest.raises(ConfigError) as caught:
        check_step_fits(model, 100_000)  # 2 * 160 * 100000 * 4 bytes = 122 MiB
    assert caught.value.field == "batch_size"
    assert "at most" in caught.value.message
    fits = int(caught.value.message.split("at most ")[1].split(".")[0])
    assert step_bytes(model, fits) <= 2**20 < step_bytes(model, 100_000)
