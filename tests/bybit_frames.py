"""Bybit frames as the simulator produces them, without sockets: a Binance feed stepped by hand
with a Bybit feed on its hook, every publish captured by the hub's tap."""

from __future__ import annotations

import datetime as dt
from typing import Any

import orjson

from sim.bybit import BybitFeed, BybitTruth
from sim.faults import Faults
from sim.feed import Feed
from sim.hub import Hub
from sim.script import Episode, Script

EPOCH_MS = 1_790_000_000_000
PANIC = Script([Episode("panic_selloff", 0, 60, "BTCUSDT")])


def at(ms: int) -> dt.datetime:
    return dt.datetime(1970, 1, 1, tzinfo=dt.UTC) + dt.timedelta(milliseconds=ms)


def bybit_market(symbols: tuple[str, ...] = ("BTCUSDT",)) -> BybitFeed:
    faults = Faults()
    feed = Feed(
        list(symbols),
        seed=7,
        rate=200.0,
        start_ms=EPOCH_MS,
        step_ms=50,
        script=PANIC,
        hub=Hub(faults),
        faults=faults,
        truth=None,
    )
    bybit = BybitFeed(list(symbols), feed, seed=7, rate=200.0, truth=BybitTruth())
    bybit.hub.tap = []
    return bybit


def step(bybit: BybitFeed, ms: int) -> None:
    for _ in range(ms // bybit.feed.step_ms):
        bybit.feed.step()


def published(bybit: BybitFeed, topic: str) -> list[dict[str, Any]]:
    """Every message published on ``topic`` so far, decoded, in order."""
    assert bybit.hub.tap is not None
    return [orjson.loads(raw) for name, raw in bybit.hub.tap if name == topic]


def snapshot(bybit: BybitFeed, topic: str) -> dict[str, Any]:
    """What a new subscriber of ``topic`` receives first, through JSON as on the wire."""
    payload = bybit.snapshot(topic)
    assert payload is not None
    return orjson.loads(orjson.dumps(payload))
