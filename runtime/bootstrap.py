"""Settings and logging from the environment, then a job on uvloop; a bad input found on the way
is one line on stderr and exit 2, an unreachable database one line and exit 1."""

from __future__ import annotations

import sys
from collections.abc import Callable, Coroutine
from typing import Any

import uvloop

from db.connect import DatabaseUnavailable
from runtime.logs import setup_logging
from settings import Settings, SettingsError


class StartupError(Exception):
    """A process cannot start as configured; the message names the setting (exit 2)."""


def run_with_settings(job: Callable[[Settings], Coroutine[Any, Any, None]]) -> int:
    """Settings and logging from the environment, then ``job`` on uvloop; one-line errors."""
    try:
        settings = Settings.from_env()
    except SettingsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        setup_logging(settings.log_level, settings.log_format, settings.log_file)
        uvloop.run(job(settings))
    except DatabaseUnavailable as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    # SettingsError here: e.g. an unsafe SPOOL_DIR, a symbol no recorder knows, a changed config
    except (StartupError, SettingsError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0
