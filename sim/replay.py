"""Replay of a recorded capture: the frames a client once received, served again on their streams.

A capture is a text file, one frame per line: ``<ms timestamp> <frame>``, the frame being exactly
the text received — a combined-stream frame ``{"stream":"btcusdt@aggTrade","data":{...}}`` or a
raw payload (its stream is then derived from the payload: ``btcusdt@aggTrade``, ``btcusdt@depth``,
``!markPrice@arr`` ...). Clients connect and subscribe as usual; the pacer plays the capture at its
original pace (speed 1), faster (speed k) or as fast as clients read (speed 0).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import orjson

from sim.hub import Hub

log = logging.getLogger(__name__)

_COMBINED_HEAD = b'{"stream":"'
_DATA_KEY = b'","data":'


def stream_of(payload: Any) -> str | None:
    """The stream a raw payload was published on (the default speed where there are several)."""
    if isinstance(payload, list):
        return "!markPrice@arr" if payload and payload[0].get("e") == "markPriceUpdate" else None
    if not isinstance(payload, dict):
        return None
    event = payload.get("e")
    symbol = str(payload.get("s") or payload.get("o", {}).get("s", "")).lower()
    names = {
        "aggTrade": f"{symbol}@aggTrade",
        "depthUpdate": f"{symbol}@depth",
        "bookTicker": f"{symbol}@bookTicker",
        "markPriceUpdate": f"{symbol}@markPrice",
        "forceOrder": f"{symbol}@forceOrder",
    }
    if event == "kline":
        return f"{symbol}@kline_{payload['k']['i']}"
    return names.get(event)  # type: ignore[arg-type]


def split_frame(frame: bytes) -> tuple[str, bytes] | None:
    """(stream, raw payload bytes) of one captured frame, keeping the payload's exact bytes."""
    if frame.startswith(_COMBINED_HEAD):
        end = frame.find(_DATA_KEY)
        if end > 0 and frame.endswith(b"}"):
            return frame[len(_COMBINED_HEAD) : end].decode(), frame[end + len(_DATA_KEY) : -1]
    try:
        name = stream_of(orjson.loads(frame))
    except orjson.JSONDecodeError:
        return None
    return (name, frame) if name else None


def load_capture(path: str | Path) -> list[tuple[int, str, bytes]]:
    """Parse a capture file into (ms, stream, payload), skipping lines it cannot read."""
    frames = []
    skipped = 0
    with open(path, "rb") as lines:
        for line in lines:
            stamp, _, frame = line.strip().partition(b" ")
            parsed = split_frame(frame) if stamp.isdigit() else None
            if parsed is None:
                skipped += 1
                continue
            frames.append((int(stamp), parsed[0], parsed[1]))
    if skipped:
        log.warning("capture %s: %d unreadable line(s) skipped", path, skipped)
    frames.sort(key=lambda f: f[0])
    return frames


class Replay:
    """A pacer source that publishes captured frames when simulated time reaches them."""

    def __init__(self, frames: list[tuple[int, str, bytes]], hub: Hub, step_ms: int = 10) -> None:
        self.frames = frames
        self.hub = hub
        self.step_ms = step_ms
        first = frames[0][0] if frames else 0
        self.now = first - first % step_ms
        self.position = 0

    @property
    def finished(self) -> bool:
        return self.position >= len(self.frames)

    @property
    def symbols(self) -> set[str]:
        return {
            name.split("@")[0].upper() for _, name, _ in self.frames if not name.startswith("!")
        }

    def step(self) -> None:
        end = self.now + self.step_ms
        frames, i = self.frames, self.position
        while i < len(frames) and frames[i][0] < end:
            _, name, raw = frames[i]
            self.hub.publish_raw(name, raw)
            i += 1
        self.position = i
        self.now = end
