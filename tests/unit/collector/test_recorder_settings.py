"""Recorder settings that would silently switch something off are refused (issue 15, case 10)."""

import pytest

from settings import Settings, SettingsError


def settings(**env: str) -> Settings:
    return Settings.from_env(env, dotenv=False)


@pytest.mark.parametrize("name", ["OI_POLL_INTERVAL", "STREAM_SILENT_AFTER", "GAP_HOLD_MAX"])
@pytest.mark.parametrize("value", ["inf", "Infinity", "nan", "1e999"])
def test_infinite_or_nan_seconds_are_refused_with_the_name(name, value):
    with pytest.raises(SettingsError, match=name):
        settings(**{name: value})


def test_empty_symbols_are_refused_not_replaced_by_the_defaults():
    with pytest.raises(SettingsError, match="SYMBOLS is empty"):
        settings(SYMBOLS="  ")
    assert settings().symbols == ("BTCUSDT", "ETHUSDT")  # unset: the documented default
