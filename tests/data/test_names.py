"""Run names say what sets a run apart from the defaults; dataset names are short."""

from __future__ import annotations

import pytest

from core.data.names import differences, number, run_title
from core.spec.config import RunConfig


def _title(**changes: object) -> str:
    return run_title(RunConfig(**changes).to_dict())


def test_a_run_at_the_defaults_is_named_by_its_model_and_dataset() -> None:
    assert _title() == "cnn on digits"
    assert _title(model="mlp") == "mlp on digits"


def test_a_run_names_what_differs_from_the_defaults() -> None:
    assert _title(batch_size=20, learning_rate=0.01) == "cnn · batch 20 · lr 0.01 on digits"
    assert _title(optimizer="sgd", epochs=5) == "cnn · sgd · epochs 5 on digits"
    assert _title(filters=(32, 128), augment=("flip", "rotation:15")) == (
        "cnn · aug flip+rotation:15 · filters 32/128 on digits"
    )
    assert (
        _title(batch_norm=False, nesterov=True)
        == "cnn · nesterov · no batch normalization on digits"
    )


def test_two_runs_that_differ_get_different_names() -> None:
    assert _title(learning_rate=0.1) != _title(learning_rate=0.01)
    assert _title(learning_rate=2.5e-4) == "cnn · lr 2.5e-4 on digits"
    assert _title(seed=1) == "cnn · seed 1 on digits"


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (0.01, "0.01"),
        (1e-4, "1e-4"),
        (3e-5, "3e-5"),
        (0.001, "0.001"),
        (0.3, "0.3"),
        (2.5e-4, "2.5e-4"),
    ],
)
def test_numbers_read_as_people_write_them(value: float, shown: str) -> None:
    assert number(value) == shown


def test_beyond_four_differences_the_rest_are_counted() -> None:
    title = _title(batch_size=20, learning_rate=1e-4, optimizer="sgd", epochs=3, dropout=0.5)
    assert title == "cnn · batch 20 · lr 1e-4 · sgd · +2 more on digits"
    assert _title(batch_size=20, learning_rate=1e-4, optimizer="sgd", epochs=3) == (
        "cnn · batch 20 · lr 1e-4 · sgd · epochs 3 on digits"
    )


def test_settings_the_model_does_not_read_are_left_out() -> None:
    assert _title(model="mlp", conv_blocks=1, filters=(8,)) == "mlp on digits"
    assert _title(backbone="xception") == "cnn on digits"
    assert _title(model="resnet", conv_blocks=3) == "resnet · blocks 3 on digits"


def test_a_caller_can_leave_out_what_it_shows_itself() -> None:
    cfg = RunConfig(model="mlp", epochs=1, batch_size=32).to_dict()
    assert run_title(cfg, omit=("epochs",)) == "mlp · batch 32 on digits"
    assert differences(cfg) == ["batch 32", "epochs 1"]


def test_a_stored_config_missing_newer_keys_still_reads() -> None:
    old = {"model": "cnn", "dataset": "digits", "learning_rate": 0.05, "retired_key": 1}
    assert run_title(old) == "cnn · lr 0.05 on digits"
