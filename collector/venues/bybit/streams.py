"""Bybit v5 linear topics, and how they are spread over connections and asked for.

One route carries everything (``/v5/public/linear``); a connection's topics may total at most
21,000 characters, so a large universe takes several connections. The client must send
``{"op":"ping"}`` about every 20 s (Bybit never pings) or the connection is closed.
"""

from __future__ import annotations

import orjson

LINEAR_PATH = "/v5/public/linear"
MAX_ARGS_CHARS = 21_000  # all of one connection's topics together
PING_INTERVAL = 20.0  # seconds
DEPTHS = (1, 50, 200, 1000)  # linear orderbook depths


def ws_url(base: str) -> str:
    """``wss://stream.bybit.com`` (or the simulator's ws://host:port) -> the linear route."""
    return base.rstrip("/") + LINEAR_PATH


def topics(symbol: str, depth: int = 200) -> list[str]:
    """Everything the recorder keeps of one symbol."""
    if depth not in DEPTHS:
        raise ValueError(f"orderbook depth must be one of {DEPTHS}, got {depth}")
    return [
        f"publicTrade.{symbol}",
        f"orderbook.{depth}.{symbol}",
        f"allLiquidation.{symbol}",
        f"tickers.{symbol}",
    ]


def per_connection(wanted: list[str], limit: int = MAX_ARGS_CHARS) -> list[list[str]]:
    """``wanted`` in order, cut into groups whose characters stay within ``limit``."""
    groups: list[list[str]] = []
    size = limit + 1
    for topic in wanted:
        if len(topic) > limit:
            raise ValueError(f"topic longer than {limit} characters: {topic[:40]}…")
        if size + len(topic) > limit:
            groups.append([])
            size = 0
        groups[-1].append(topic)
        size += len(topic)
    return groups


def op(name: str, args: list[str] | None = None, req_id: str | None = None) -> str:
    """A ``subscribe``/``unsubscribe``/``ping`` message."""
    body: dict[str, object] = {"op": name}
    if req_id is not None:
        body["req_id"] = req_id
    if args is not None:
        body["args"] = args
    return orjson.dumps(body).decode()
