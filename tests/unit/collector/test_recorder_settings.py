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


@pytest.mark.parametrize(
    ("name", "value"),
    [("LEASES", "yes"), ("LEASE_TIMEOUT", "0.5"), ("LEASE_TIMEOUT", "soon"),
     ("LEASE_TIMEOUT", "inf"), ("RECORDER_PROCESSES", "0"), ("RECORDER_PROCESSES", "two"),
     ("LEASE_MEMBERS", "0")],
)  # fmt: skip
def test_bad_sharing_settings_are_refused_with_the_name(name, value):
    with pytest.raises(SettingsError, match=name):
        settings(**{name: value})


def test_sharing_is_off_unless_asked_for():
    s = settings()
    assert (s.leases, s.lease_timeout, s.recorder_processes) == (False, 15.0, 1)
    s = settings(LEASES="on", LEASE_TIMEOUT="5", RECORDER_PROCESSES="3")
    assert (s.leases, s.lease_timeout, s.recorder_processes) == (True, 5.0, 3)
