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
        (settings.CHECKPOINT_CAP, "", 50),
        (settings.CHECKPOINT_CAP, "0", 0),
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
