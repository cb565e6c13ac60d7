"""A refused input reads as one line in a person's words, the field's label said once."""

from __future__ import annotations

import pytest

from core.spec.config import ConfigError
from core.spec.params import PARAM_BY_KEY, field_label
from pages.ui.errors import error_text


@pytest.mark.parametrize(
    ("field", "label"),
    [
        ("learning_rate", "Learning rate"),
        ("batch_size", "Batch size"),
        ("filters[0]", "Filters of conv block 1"),
        ("filters[2]", "Filters of conv block 3"),
        ("max_trials", "Max trials"),
        ("--set", "Other changes"),
        ("something new", "something new"),
    ],
)
def test_a_field_is_named_by_the_words_of_its_form(field: str, label: str) -> None:
    assert field_label(field) == label


def test_every_run_setting_has_a_label_that_is_not_its_key() -> None:
    for key, param in PARAM_BY_KEY.items():
        assert field_label(key) == param.label and param.label != key


def test_a_message_that_begins_with_the_label_says_it_once_in_bold() -> None:
    exc = ConfigError("learning_rate", "learning rate must be above 0 (got 0).")
    assert error_text(exc) == "**Learning rate** must be above 0 (got 0)."


def test_any_other_message_follows_the_label() -> None:
    exc = ConfigError("filters[0]", "step must be a whole number (got '2.5').")
    shown = "**Filters of conv block 1** — step must be a whole number (got '2.5')."
    assert error_text(exc) == shown
