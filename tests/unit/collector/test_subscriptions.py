"""Which connection carries which stream when the universe changes (connections not run)."""

from __future__ import annotations

from collector.connection import StreamConnection
from collector.subscriptions import Subscriptions
from collector.venues.binance import streams


def _make(name: str, route: str, names: list[str]) -> StreamConnection:
    def url_for(names: list[str]) -> str:
        return streams.combined_url("ws://127.0.0.1:1", route, names)

    return StreamConnection(
        name, url_for(names), lambda frame: None, streams=names, url_for=url_for
    )


def _per_symbol(symbols: list[str]) -> list[streams.Stream]:
    return [s for s in streams.futures_streams(symbols, "100ms") if s.symbol]


def _layout(subs: Subscriptions) -> dict[str, list[str]]:
    return {c.name: c.streams for c in subs.connections}


def test_added_streams_fill_free_room_then_open_a_connection_per_full_route():
    subs = Subscriptions(streams.futures_streams(["BTCUSDT"], "100ms"), _make, per_connection=2)
    assert _layout(subs) == {
        "public-0": ["btcusdt@depth@100ms"],
        "market-1": ["btcusdt@aggTrade", "!markPrice@arr@1s"],
        "market-2": ["!forceOrder@arr"],
    }
    subs.change(_per_symbol(["ETHUSDT", "SOLUSDT"]), [])
    assert _layout(subs) == {
        "public-0": ["btcusdt@depth@100ms", "ethusdt@depth@100ms"],
        "market-1": ["btcusdt@aggTrade", "!markPrice@arr@1s"],
        "market-2": ["!forceOrder@arr", "ethusdt@aggTrade"],
        "public-3": ["solusdt@depth@100ms"],
        "market-4": ["solusdt@aggTrade"],
    }
    # a new session of a changed connection subscribes to its current streams by URL
    assert subs.connections[0].url.endswith("streams=btcusdt@depth@100ms/ethusdt@depth@100ms")
    assert subs.connections[0]._control.qsize() == 1  # one SUBSCRIBE for the live session


def test_removed_streams_are_unsubscribed_and_an_emptied_connection_closes():
    subs = Subscriptions(_per_symbol(["BTCUSDT", "ETHUSDT", "SOLUSDT"]), _make, per_connection=2)
    subs.change([], _per_symbol(["ETHUSDT", "SOLUSDT"]))
    assert _layout(subs) == {"public-0": ["btcusdt@depth@100ms"], "market-2": ["btcusdt@aggTrade"]}
    public = subs.connections[0]
    assert public._control.get_nowait() == ("UNSUBSCRIBE", ["ethusdt@depth@100ms"])
