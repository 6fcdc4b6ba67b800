"""Stream names, their 2026 routes (``/public`` or ``/market``), and Binance's payload shapes.

Payload builders take already-formatted strings and return dicts whose key order is Binance's, so
``orjson.dumps`` of them reads like the real feed. The 2026 additions (``nq``, ``ps``, ``st``) are
included because Binance sends them now; clients must tolerate keys they do not know anyway.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

PUBLIC = "public"
MARKET = "market"

DEPTH_SPEEDS = (100, 250, 500)  # ms; "@depth" alone is 250
PARTIAL_LEVELS = (5, 10, 20)
KLINE_INTERVALS = {
    "1m": 60_000,
    "3m": 180_000,
    "5m": 300_000,
    "15m": 900_000,
    "30m": 1_800_000,
    "1h": 3_600_000,
    "2h": 7_200_000,
    "4h": 14_400_000,
    "6h": 21_600_000,
    "8h": 28_800_000,
    "12h": 43_200_000,
    "1d": 86_400_000,
    "3d": 259_200_000,
    "1w": 604_800_000,
}
UM = 1  # "st": 1 = USDⓈ-M, 2 = COIN-M (after the 2026 CM migration)


@dataclass(frozen=True, slots=True)
class StreamSpec:
    """What a stream name asks for."""

    name: str
    kind: str  # aggTrade, depth, partialDepth, bookTicker, markPrice, markPriceAll, forceOrder,
    #            forceOrderAll, kline
    route: str  # PUBLIC or MARKET: the only path prefix on which Binance delivers it
    symbol: str | None = None  # upper case; None for the all-market ("!") streams
    speed: int = 0  # ms, for depth and mark price
    levels: int = 0  # partial depth
    interval: str = ""  # kline


_SYMBOL_STREAM = re.compile(r"^([a-z0-9_]+)@(.+)$")
_DEPTH = re.compile(r"^depth(5|10|20)?(?:@(100|500)ms)?$")
_MARK = re.compile(r"^markPrice(@1s)?$")
_KLINE = re.compile(r"^kline_(\w+)$")


def parse_stream(name: str) -> StreamSpec | None:
    """The spec of a stream name, or None if Binance has no such stream (it would stay silent)."""
    if name == "!forceOrder@arr":
        return StreamSpec(name, "forceOrderAll", MARKET)
    if name in ("!markPrice@arr", "!markPrice@arr@1s"):
        return StreamSpec(name, "markPriceAll", MARKET, speed=1000 if name.endswith("1s") else 3000)
    match = _SYMBOL_STREAM.match(name)
    if match is None:
        return None
    symbol, rest = match.group(1).upper(), match.group(2)
    if rest in ("aggTrade", "forceOrder"):
        return StreamSpec(name, rest, MARKET, symbol)
    if rest == "bookTicker":
        return StreamSpec(name, rest, PUBLIC, symbol)
    if m := _DEPTH.match(rest):
        speed = int(m.group(2) or 250)
        if m.group(1):
            return StreamSpec(name, "partialDepth", PUBLIC, symbol, speed, int(m.group(1)))
        return StreamSpec(name, "depth", PUBLIC, symbol, speed)
    if m := _MARK.match(rest):
        return StreamSpec(name, "markPrice", MARKET, symbol, 1000 if m.group(1) else 3000)
    if (m := _KLINE.match(rest)) and m.group(1) in KLINE_INTERVALS:
        return StreamSpec(name, "kline", MARKET, symbol, interval=m.group(1))
    return None


def depth_name(symbol: str, speed: int, levels: int = 0) -> str:
    base = f"{symbol.lower()}@depth{levels or ''}"
    return base if speed == 250 else f"{base}@{speed}ms"


# ---- payloads -------------------------------------------------------------------------------


def agg_trade(
    symbol: str, e_time: int, a: int, p: str, q: str, f: int, last: int, t: int, m: bool
) -> dict[str, Any]:
    return {
        "e": "aggTrade",
        "E": e_time,
        "s": symbol,
        "a": a,
        "p": p,
        "q": q,
        "nq": q,  # quantity without RPI orders; the simulator has none
        "f": f,
        "l": last,
        "T": t,
        "m": m,
        "st": UM,
    }


def depth_update(
    symbol: str,
    e_time: int,
    t: int,
    first: int,
    final: int,
    prev_final: int,
    bids: list[list[str]],
    asks: list[list[str]],
) -> dict[str, Any]:
    """Diff depth and partial depth share this envelope (partial: b/a are the top N levels)."""
    return {
        "e": "depthUpdate",
        "E": e_time,
        "T": t,
        "s": symbol,
        "U": first,
        "u": final,
        "pu": prev_final,
        "b": bids,
        "a": asks,
        "ps": symbol,
        "st": UM,
    }


def book_ticker(
    symbol: str, u: int, e_time: int, t: int, b: str, bq: str, a: str, aq: str
) -> dict[str, Any]:
    return {
        "e": "bookTicker",
        "u": u,
        "E": e_time,
        "T": t,
        "s": symbol,
        "b": b,
        "B": bq,
        "a": a,
        "A": aq,
        "ps": symbol,
        "st": UM,
    }


def mark_price(
    symbol: str, e_time: int, p: str, i: str, settle: str, r: str, next_funding: int, ap: str
) -> dict[str, Any]:
    return {
        "e": "markPriceUpdate",
        "E": e_time,
        "s": symbol,
        "p": p,
        "i": i,
        "P": settle,
        "r": r,
        "T": next_funding,
        "ap": ap,
        "st": UM,
    }


def force_order(
    symbol: str,
    e_time: int,
    side: str,
    q: str,
    p: str,
    ap: str,
    last: str,
    filled: str,
    t: int,
) -> dict[str, Any]:
    return {
        "e": "forceOrder",
        "E": e_time,
        "o": {
            "s": symbol,
            "S": side,
            "o": "LIMIT",
            "f": "IOC",
            "q": q,
            "p": p,
            "ap": ap,
            "X": "FILLED",
            "l": last,
            "z": filled,
            "T": t,
        },
        "ps": symbol,
        "st": UM,
    }


def kline(symbol: str, e_time: int, k: dict[str, Any]) -> dict[str, Any]:
    """``k`` holds t T s i f L o c h l v n x q V Q B, built by the feed."""
    return {"e": "kline", "E": e_time, "s": symbol, "k": k}
