"""Each ``HPE_*`` setting: its default, the values it takes, and a clear refusal of the rest."""

from __future__ import annotations

import pytest

from core.store import settings
from core.store.settings import SettingError


@pytest.mark.parametrize(
    ("name", "raw", "value"),
    [
        (settings.IDLE_EXIT, "", 600.0),
        (settings.IDLE_EXIT, " 2.5 ", 2.5),
        (settings.IDLE_EXIT, "0", 0.0),
        (settings.CHECKPOINT_CAP, "", 5),
        (settings.CHECKPOINT_CAP, "0", 0),
        (settings.CHECKPOINT_BYTES, "", 2_000_000_000),
        (settings.CHECKPOINT_BYTES, "123456", 123_456),
        (settings.CHECKPOINT_BYTES, "1.5 GB", 1_500_000_000),
        (settings.CHECKPOINT_BYTES, "500mb", 500_000_000),
        (settings.WORKER_MEMORY_MB, "", None),
        (settings.WORKER_MEMORY_MB, "3000", 3000.0),
        (settings.LOG_LEVEL, "debug", "DEBUG"),
    ],
)
def test_a_setting_takes_its_default_or_the_value_given(
    name: str, raw: str, value: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(name, raw)
    assert settings.read(name) == value


@pytest.mark.parametrize(
    ("name", "raw", "must_be"),
    [
        (settings.IDLE_EXIT, "10m", "number of seconds"),
        (settings.IDLE_EXIT, "-1", "number of seconds"),
        (settings.IDLE_EXIT, "nan", "number of seconds"),
        (settings.CHECKPOINT_CAP, "2.5", "whole number"),
        pytest.param(settings.CHECKPOINT_CAP, "9" * 5000, "whole number", id="5000 digits"),
        (settings.CHECKPOINT_BYTES, "0", "size above 0 in bytes"),
        (settings.CHECKPOINT_BYTES, "2 GiB", "size above 0 in bytes"),
        (settings.CHECKPOINT_BYTES, "-5MB", "size above 0 in bytes"),
        pytest.param(settings.CHECKPOINT_BYTES, "9" * 5000, "size above 0", id="bytes 5000 digits"),
        (settings.WORKER_MEMORY_MB, "4G", "MiB above 0"),
        (settings.WORKER_MEMORY_MB, "0", "MiB above 0"),
        (settings.LOG_LEVEL, "loud", "one of DEBUG"),
    ],
)
def test_a_value_a_setting_cannot_mean_is_refused_in_one_line(
    name: str, raw: str, must_be: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(name, raw)
    with pytest.raises(SettingError, match=must_be) as refused:
        settings.check_all()
    message = refused.value.message
    assert message.startswith(f"{name}=") and "\n" not in message and len(message) < 250


@pytest.mark.parametrize(
    ("size", "text"),
    [(0, "0 B"), (999, "999 B"), (1000, "1 KB"), (1_234_567, "1.23 MB"), (2e9, "2 GB")],
)
def test_a_size_is_shown_in_the_largest_unit_it_reaches(size: float, text: str) -> None:
    assert settings.format_bytes(size) == text
