"""Binance's documented example payloads (USDⓈ-M), key for key, from the reference fact sheet.

Keys follow /work/shared/reference/binance-usdm.md §A.4 and §C (official SDK models, 2026: with
``nq``, ``ps``, ``st``); values are Binance's documentation examples. Tests compare the simulator's
payloads with these: same keys, same order, same JSON types.
"""

from __future__ import annotations

from typing import Any

AGG_TRADE: dict[str, Any] = {
    "e": "aggTrade", "E": 123456789, "s": "BTCUSDT", "a": 5933014, "p": "0.001", "q": "100",
    "nq": "100", "f": 100, "l": 105, "T": 123456785, "m": True, "st": 1,
}  # fmt: skip

DEPTH_UPDATE: dict[str, Any] = {
    "e": "depthUpdate", "E": 123456789, "T": 123456788, "s": "BTCUSDT", "U": 157, "u": 160,
    "pu": 149, "b": [["0.0024", "10"]], "a": [["0.0026", "100"]], "ps": "BTCUSDT", "st": 1,
}  # fmt: skip

BOOK_TICKER: dict[str, Any] = {
    "e": "bookTicker", "u": 400900217, "E": 1568014460893, "T": 1568014460891, "s": "BNBUSDT",
    "b": "25.35190000", "B": "31.21000000", "a": "25.36520000", "A": "40.66000000",
    "ps": "BNBUSDT", "st": 1,
}  # fmt: skip

MARK_PRICE: dict[str, Any] = {
    "e": "markPriceUpdate", "E": 1562305380000, "s": "BTCUSDT", "p": "11794.15000000",
    "i": "11784.62659091", "P": "11784.25641265", "r": "0.00038167", "T": 1562306400000,
    "ap": "11794.15000000", "st": 1,
}  # fmt: skip

FORCE_ORDER: dict[str, Any] = {
    "e": "forceOrder", "E": 1568014460893,
    "o": {"s": "BTCUSDT", "S": "SELL", "o": "LIMIT", "f": "IOC", "q": "0.014", "p": "9910",
          "ap": "9910", "X": "FILLED", "l": "0.014", "z": "0.014", "T": 1568014460893},
    "ps": "BTCUSDT", "st": 1,
}  # fmt: skip

KLINE: dict[str, Any] = {
    "e": "kline", "E": 1638747660000, "s": "BTCUSDT",
    "k": {"t": 1638747660000, "T": 1638747719999, "s": "BTCUSDT", "i": "1m", "f": 100, "L": 200,
          "o": "0.0010", "c": "0.0020", "h": "0.0025", "l": "0.0015", "v": "1000", "n": 100,
          "x": False, "q": "1.0000", "V": "500", "Q": "0.500", "B": "123456"},
}  # fmt: skip

# ---- REST ---------------------------------------------------------------------------------------

REST_DEPTH: dict[str, Any] = {
    "lastUpdateId": 1027024, "E": 1589436922972, "T": 1589436922959,
    "bids": [["4.00000000", "431.00000000"]], "asks": [["4.00000200", "12.00000000"]],
}  # fmt: skip

REST_AGG_TRADE: dict[str, Any] = {
    "a": 26129, "p": "0.01633102", "q": "4.70443515", "nq": "4.70443515", "f": 27781, "l": 27781,
    "T": 1498793709153, "m": True,
}  # fmt: skip

REST_OPEN_INTEREST: dict[str, Any] = {
    "openInterest": "10659.509",
    "symbol": "BTCUSDT",
    "time": 1589437530011,
}

REST_PREMIUM_INDEX: dict[str, Any] = {
    "symbol": "BTCUSDT", "markPrice": "11793.63104562", "indexPrice": "11781.80495970",
    "estimatedSettlePrice": "11781.16138815", "lastFundingRate": "0.00038246",
    "interestRate": "0.00010000", "nextFundingTime": 1597392000000, "time": 1597370495002,
}  # fmt: skip

REST_TICKER_24HR: dict[str, Any] = {
    "symbol": "BTCUSDT", "priceChange": "-94.99999800", "priceChangePercent": "-95.960",
    "weightedAvgPrice": "0.29628482", "lastPrice": "4.00000200", "lastQty": "200.00000000",
    "openPrice": "99.00000000", "highPrice": "100.00000000", "lowPrice": "0.10000000",
    "volume": "8913.30000000", "quoteVolume": "15.30000000", "openTime": 1499783499040,
    "closeTime": 1499869899040, "firstId": 28385, "lastId": 28460, "count": 76,
}  # fmt: skip

REST_TIME: dict[str, Any] = {"serverTime": 1499827319559}

EXCHANGE_INFO_KEYS = {
    "exchangeFilters",
    "rateLimits",
    "serverTime",
    "assets",
    "symbols",
    "timezone",
}
EXCHANGE_INFO_SYMBOL_KEYS = {
    "symbol", "pair", "contractType", "deliveryDate", "onboardDate", "status", "pricePrecision",
    "quantityPrecision", "baseAsset", "quoteAsset", "marginAsset", "underlyingType",
    "triggerProtect", "filters", "orderTypes", "timeInForce", "liquidationFee", "marketTakeBound",
}  # fmt: skip


def same_shape(actual: Any, example: Any, path: str = "$") -> list[str]:
    """Differences between ``actual`` and ``example`` in keys, key order and JSON types."""
    problems: list[str] = []
    if isinstance(example, dict):
        if not isinstance(actual, dict):
            return [f"{path}: expected an object, got {type(actual).__name__}"]
        if list(actual) != list(example):
            problems.append(f"{path}: keys {list(actual)} != {list(example)}")
        for key in example.keys() & actual.keys():
            problems += same_shape(actual[key], example[key], f"{path}.{key}")
    elif isinstance(example, list):
        if not isinstance(actual, list):
            return [f"{path}: expected an array, got {type(actual).__name__}"]
        if example and actual:
            problems += same_shape(actual[0], example[0], f"{path}[0]")
    elif type(actual) is not type(example):
        problems.append(f"{path}: {type(actual).__name__} != {type(example).__name__}")
    return problems
