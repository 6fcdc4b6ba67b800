"""Logging set-up: plain text by default, one JSON object per line with LOG_FORMAT=json; to
stderr, or appended to LOG_FILE for those who run Flowline without docker or journald."""

from __future__ import annotations

import logging
import logging.handlers
import sys
from pathlib import Path

import orjson

from settings import SettingsError


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S") + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(entry).decode()


def setup_logging(level: str, fmt: str, file: Path | None = None) -> None:
    handler: logging.Handler = logging.StreamHandler(sys.stderr)
    if file is not None:
        try:
            # reopens the file when logrotate moves it away
            handler = logging.handlers.WatchedFileHandler(file, encoding="utf-8")
        except OSError as exc:
            raise SettingsError(f"LOG_FILE: cannot append to {file}: {exc.strerror}") from None
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        # ISO 8601 in UTC, as the database shows times: 2026-12-06T17:12:33.054Z
        line = "%(asctime)s.%(msecs)03dZ %(levelname)s %(name)s: %(message)s"
        handler.setFormatter(logging.Formatter(line, "%Y-%m-%dT%H:%M:%S"))
    logging.Formatter.converter = __import__("time").gmtime
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
