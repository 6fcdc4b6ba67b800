"""Universe scoring and filters (`[universe]`): which symbols may be traded, judged from the
recorded data at every `check` (seed 001: hourly minimums and a score; seed 002: the top gainers
and losers every 5 minutes).

At each check time T (a multiple of `check`), from the rows before T only:
- 24 h quote volume, trade count and price change: `candles_1m` over [T − 24 h, T);
- open interest in quote: the newest `open_interest` row × the last price;
- spread: the median of `book_top`'s (ask − bid) / mid over [T − check, T); the book's depth
  within 1 % of the mid from the newest `book_top` row (as deep as BOOK_TOP_LEVELS goes);
- volatility: the mean high − low of the 24 hourly bars over the last price;
- the exchange's status from `symbols` (exchangeInfo): anything but TRADING is refused.
Seed 001's score (0–100): volume (to $100M) × 35 + depth (to $2M) × 25 + volatility (to 10 %)
× 20 + trades per second (to 10) × 20. A signal at bar close b is judged by the check at
b − b % check: the live worker and a backtest compute the same checks from the same rows, so
they refuse the same signals (reason `universe_<why>`). Between checks, a bar whose closing
spread exceeds `emergency_spread_pct` excludes the symbol until the next check (seed 001's
emergency exclusion), judged from the engine's own book.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import asyncpg

from strategy.config import UniverseParams
from strategy.snapshot import Snapshot
from strategy.venue import BINANCE, Venue

log = logging.getLogger(__name__)
DAY_MS = 86_400_000
DEPTH_BAND = 0.01  # seed 001: book depth within 1 % of the price


@dataclass(frozen=True)
class Measure:
    """One symbol's figures at a check (None: nothing recorded to judge by)."""

    volume_24h: float = 0.0  # quote
    trades_24h: int = 0
    change_pct: float | None = None
    open_interest: float | None = None  # quote
    spread_pct: float | None = None
    depth: float | None = None  # quote within 1 % of the mid
    atr_pct: float | None = None
    status: str | None = None  # exchangeInfo's; None: not recorded

    @property
    def score(self) -> float:
        """Seed 001 §4.1 calculate_symbol_score, 0–100."""
        volatility = min((self.atr_pct or 0.0) / 100, 0.1) / 0.1
        return 100 * (
            min(self.volume_24h / 100e6, 1) * 0.35
            + min((self.depth or 0.0) / 2e6, 1) * 0.25
            + volatility * 0.20
            + min(self.trades_24h / 86_400 / 10, 1) * 0.20
        )


def judge(p: UniverseParams, measures: dict[str, Measure]) -> dict[str, str]:
    """symbol -> why it is excluded, for those that are; pure, so tests give it figures."""
    refused = {}
    for symbol, m in measures.items():
        if why := _minimums(p, m):
            refused[symbol] = why
    if p.gainers or p.losers:
        ranked = sorted(
            (s for s, m in measures.items() if s not in refused and m.change_pct is not None),
            key=lambda s: (-(measures[s].change_pct or 0.0), s),
        )
        movers = set(ranked[: p.gainers]) | set(ranked[::-1][: p.losers])
        refused |= {s: "not_a_mover" for s in measures if s not in refused and s not in movers}
    return refused


def _minimums(p: UniverseParams, m: Measure) -> str | None:
    if m.status is not None and m.status.upper() != "TRADING":  # Bybit says Trading
        return "not_trading"
    if p.min_volume_24h and m.volume_24h < p.min_volume_24h:
        return "low_volume"
    if p.min_open_interest and (m.open_interest is None or m.open_interest < p.min_open_interest):
        return "low_open_interest"
    if p.max_spread_pct and (m.spread_pct is None or m.spread_pct > p.max_spread_pct):
        return "wide_spread"
    if p.min_score and m.score < p.min_score:
        return "low_score"
    return None


_DAY = """
SELECT symbol, sum(quote_volume)::float8 AS volume, sum(trades)::bigint AS trades,
       first(open, bucket) AS open, last(close, bucket) AS close
FROM candles_1m WHERE symbol = ANY($1) AND market = $4 AND bucket >= $2 AND bucket < $3
GROUP BY symbol"""
_HOURLY_RANGE = """
SELECT symbol, avg(high - low) AS range FROM (
    SELECT symbol, time_bucket(INTERVAL '1 hour', bucket) AS hour, max(high) AS high,
           min(low) AS low
    FROM candles_1m WHERE symbol = ANY($1) AND market = $4 AND bucket >= $2 AND bucket < $3
    GROUP BY 1, 2) AS hours
GROUP BY symbol"""
_OPEN_INTEREST = """
SELECT DISTINCT ON (symbol) symbol, open_interest FROM open_interest
WHERE symbol = ANY($1) AND venue = $4 AND time >= $2 AND time < $3 ORDER BY symbol, time DESC"""
_SPREAD = """
SELECT symbol, percentile_cont(0.5) WITHIN GROUP (
           ORDER BY (best_ask_price - best_bid_price) / (best_ask_price + best_bid_price) * 200)
FROM book_top
WHERE symbol = ANY($1) AND market = $4 AND venue = $5 AND time >= $2 AND time < $3
  AND best_bid_price > 0 AND best_ask_price >= best_bid_price
GROUP BY symbol"""
_BOOK = """
SELECT DISTINCT ON (symbol) symbol, bid_prices, bid_qtys, ask_prices, ask_qtys,
       (best_bid_price + best_ask_price) / 2 AS mid
FROM book_top
WHERE symbol = ANY($1) AND market = $4 AND venue = $5 AND time >= $2 AND time < $3
  AND best_bid_price > 0 AND best_ask_price > 0
ORDER BY symbol, time DESC"""
_STATUS = "SELECT symbol, status FROM symbols WHERE market = $2 AND symbol = ANY($1)"


async def measure(
    conn: asyncpg.Connection,
    symbols: list[str],
    at_ms: int,
    spread_ms: int,
    venue: Venue = BINANCE,
) -> dict[str, Measure]:
    """Each symbol's figures from `venue`'s rows before `at_ms` (`conn` has the ms codec).
    candles_1m is read by market alone: each venue stores its futures under its own market."""
    day = at_ms - DAY_MS
    values: dict[str, dict] = {s: {} for s in symbols}
    market, name = venue.market, venue.name
    for r in await conn.fetch(_DAY, symbols, day, at_ms, market):
        change = (r["close"] / r["open"] - 1) * 100 if r["open"] else None
        values[r["symbol"]].update(volume_24h=r["volume"] or 0.0, trades_24h=r["trades"],
                                   change_pct=change, close=r["close"])  # fmt: skip
    for r in await conn.fetch(_HOURLY_RANGE, symbols, day, at_ms, market):
        close = values[r["symbol"]].get("close")
        if close:
            values[r["symbol"]]["atr_pct"] = r["range"] / close * 100
    for r in await conn.fetch(_OPEN_INTEREST, symbols, day, at_ms, name):
        close = values[r["symbol"]].get("close")
        if close:
            values[r["symbol"]]["open_interest"] = r["open_interest"] * close
    recent = (at_ms - spread_ms, at_ms, market, name)
    for symbol, spread in await conn.fetch(_SPREAD, symbols, *recent):
        values[symbol]["spread_pct"] = spread
    for r in await conn.fetch(_BOOK, symbols, *recent):
        values[r["symbol"]]["depth"] = _depth(r)
    for symbol, status in await conn.fetch(_STATUS, symbols, market):
        values[symbol]["status"] = status
    for v in values.values():
        v.pop("close", None)
    return {s: Measure(**v) for s, v in values.items()}


def _depth(r: asyncpg.Record) -> float:
    mid = r["mid"]
    levels = [*zip(r["bid_prices"], r["bid_qtys"], strict=False),
              *zip(r["ask_prices"], r["ask_qtys"], strict=False)]  # fmt: skip
    return sum(p * q for p, q in levels if abs(p - mid) <= mid * DEPTH_BAND)


class Gate:
    """The engine's view of the checks: `add` each check's result, then `refusal` per signal."""

    def __init__(self, params: UniverseParams, venue: Venue = BINANCE) -> None:
        self.params, self.venue = params, venue
        self.checks: dict[int, dict[str, str | None]] = {}  # T -> symbol -> why not (None: ok)
        self.emergency: dict[str, int] = {}  # symbol -> excluded until (ms)

    def due(self, after_ms: int, until_ms: int, bar_ms: int) -> list[int]:
        """The check times the bar closes in (after_ms, until_ms] are judged by, not yet added."""
        check = self.params.check_ms
        closes = range(after_ms - after_ms % bar_ms + bar_ms, until_ms + 1, bar_ms)
        return sorted({b - b % check for b in closes} - self.checks.keys())

    def add(self, at_ms: int, symbols: list[str], refused: dict[str, str]) -> None:
        self.checks[at_ms] = {s: refused.get(s) for s in symbols}
        for old in [t for t in self.checks if t < at_ms - DAY_MS]:
            del self.checks[old]

    def on_bar(self, snap: Snapshot) -> None:
        limit = self.params.emergency_spread_pct
        bid, ask = snap.best_bid, snap.best_ask
        if not limit or not snap.book_valid or not bid or not ask or bid <= 0:
            return
        if (ask - bid) / (ask + bid) * 200 > limit:
            end = snap.time_ms + snap.bar_ms
            self.emergency[snap.symbol] = end - end % self.params.check_ms + self.params.check_ms

    def refusal(self, symbol: str, time_ms: int) -> str | None:
        """Why a signal of `symbol` at bar close `time_ms` may not be traded (None: it may)."""
        if time_ms < self.emergency.get(symbol, -1):
            return "universe_emergency_spread"
        check = self.checks.get(time_ms - time_ms % self.params.check_ms)
        if check is None or symbol not in check:
            return "universe_unchecked"
        why = check[symbol]
        return None if why is None else f"universe_{why}"


async def run_checks(
    conn: asyncpg.Connection, gate: Gate, symbols: list[str], after_ms: int, until_ms: int,
    bar_ms: int,
) -> None:  # fmt: skip
    """Add the checks the bars in (after_ms, until_ms] need, logging what each excludes."""
    for at in gate.due(after_ms, until_ms, bar_ms):
        measures = await measure(conn, symbols, at, gate.params.check_ms, gate.venue)
        refused = judge(gate.params, measures)
        previous = gate.checks.get(at - gate.params.check_ms)
        gate.add(at, symbols, refused)
        if previous is None or {s: w for s, w in previous.items() if w} != refused:
            log.info("universe check: %d of %d symbols pass%s", len(symbols) - len(refused),
                     len(symbols), _listed(refused, measures))  # fmt: skip


def _listed(refused: dict[str, str], measures: dict[str, Measure]) -> str:
    if not refused:
        return ""
    parts = []
    for symbol, why in sorted(refused.items()):
        m = measures[symbol]
        parts.append(
            f"{symbol} {why} (24h volume {m.volume_24h:,.0f}, change "
            f"{_num(m.change_pct)} %, spread {_num(m.spread_pct)} %, score {m.score:.0f})"
        )
    return "; excluded: " + ", ".join(parts)  # fmt: skip


def _num(value: float | None) -> str:
    return "—" if value is None or math.isnan(value) else f"{value:.4g}"
