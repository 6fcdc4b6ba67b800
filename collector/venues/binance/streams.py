"""Which streams the recorder opens, on which 2026 route, grouped into connections.

Since 2026-04 Binance serves high-frequency streams (depth, book ticker) on ``/public`` and the
rest (aggTrade, mark price, liquidations, klines) on ``/market``. A stream sent to the wrong
route is acknowledged and then silent, so routing lives in one table here. Spot streams have no
such split: they all go to the spot host's ``/stream`` (route "spot").
"""

from __future__ import annotations

from dataclasses import dataclass

MAX_STREAMS_PER_CONNECTION = 200  # Binance's documented limit (some docs say 1024; stay safe)
ROUTES = ("public", "market", "spot")  # connections are grouped per route, in this order

# How long each event type may stay silent per symbol before /health calls it stale (seconds).
# Liquidations are legitimately silent for hours, so they are not watched.
STALE_AFTER = {"aggTrade": 120.0, "depthUpdate": 10.0, "markPriceUpdate": 10.0}
# Spot closes a connection past 5 incoming messages/s (pongs included): one SUBSCRIBE per 0.5 s,
# as Binance's own SDK does.
SPOT_CONTROL_INTERVAL = 0.5


@dataclass(frozen=True)
class Stream:
    name: str  # as sent to Binance, e.g. "btcusdt@depth@100ms"
    route: str  # "public" or "market" (futures), "spot"
    kind: str  # "depth", "aggTrade", "markPrice", "forceOrder"
    symbol: str | None  # None for all-market streams


def route_of(stream_name: str) -> str:
    """Binance's 2026 route for a stream name."""
    topic = stream_name.split("@", 1)[1] if "@" in stream_name else stream_name
    if (
        topic.startswith(("depth", "bookTicker", "rpiDepth", "trade"))
        or stream_name == "!bookTicker"
    ):
        return "public"
    return "market"


def depth_stream(symbol: str, speed: str) -> str:
    suffix = "" if speed == "250ms" else f"@{speed}"  # plain @depth is the 250 ms stream
    return f"{symbol.lower()}@depth{suffix}"


def futures_streams(symbols: list[str], depth_speed: str, all_market: bool = True) -> list[Stream]:
    """aggTrade and diff depth per symbol; mark price and liquidations for the whole market
    (filtered to our symbols on arrival) or per symbol when ``all_market`` is False."""
    streams: list[Stream] = []
    for s in symbols:
        low = s.lower()
        streams.append(Stream(f"{low}@aggTrade", "market", "aggTrade", s))
        streams.append(Stream(depth_stream(s, depth_speed), "public", "depth", s))
        if not all_market:
            streams.append(Stream(f"{low}@markPrice@1s", "market", "markPrice", s))
            streams.append(Stream(f"{low}@forceOrder", "market", "forceOrder", s))
    if all_market:
        streams.append(Stream("!markPrice@arr@1s", "market", "markPrice", None))
        streams.append(Stream("!forceOrder@arr", "market", "forceOrder", None))
    return streams


def spot_streams(symbols: list[str], depth_speed: str) -> list[Stream]:
    """aggTrade and diff depth per spot symbol (spot's plain ``@depth`` is the 1000 ms stream)."""
    depth_suffix = "" if depth_speed == "1000ms" else f"@{depth_speed}"
    streams: list[Stream] = []
    for s in symbols:
        low = s.lower()
        streams.append(Stream(f"{low}@aggTrade", "spot", "aggTrade", s))
        streams.append(Stream(f"{low}@depth{depth_suffix}", "spot", "depth", s))
    return streams


def group(
    streams: list[Stream], per_connection: int = MAX_STREAMS_PER_CONNECTION
) -> list[list[Stream]]:
    """Split by route, then into chunks of at most ``per_connection`` streams."""
    groups: list[list[Stream]] = []
    for route in ROUTES:
        same = [s for s in streams if s.route == route]
        groups.extend(same[i : i + per_connection] for i in range(0, len(same), per_connection))
    return groups


def combined_url(ws_base: str, route: str, names: list[str]) -> str:
    """Futures: ``<base>/<route>/stream?streams=...``; spot: ``<base>/stream?streams=...``."""
    path = "" if route == "spot" else f"/{route}"
    return f"{ws_base.rstrip('/')}{path}/stream?streams={'/'.join(names)}"
