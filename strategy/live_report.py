"""Daily and weekly reports of the live worker's signals and trades, at UTC day/week boundaries.

The figures are the backtest report's (strategy/report.py: `summarize`, `write_report`), over
the worker's trades that closed in the period (paper and EXECUTION=off from `positions`, Binance
from `exchange_positions`, Binance spot from `spot_deals`) and the signals of its strategies made
in it, with their decisions.
The equity starts at `[risk] equity` plus what the worker realized before the period and is
marked to market on the recorded bars (`indicators`, in buckets of at least a minute).

A report is due when the worker has processed every bar before the period's end: the clock is
the worker's own data time, so a worker catching up after a stop still reports each period it
crosses, and a test drives it with any time. Each is written once, to
``<reports_dir>/<worker>/daily/2026-12-05/`` or ``.../weekly/2026-W49/`` (report.html,
report.json, trades.csv, equity.png; an existing report.json is not written again), then sent
through the notifiers (the webhook gets the figures as JSON, Telegram a short text).
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import asyncpg

from strategy.config import StrategyConfig
from strategy.notify import Notifiers
from strategy.risk import DAY_MS, Decision
from strategy.signals import Quality, Side, Signal
from strategy.store import signal_from_row
from strategy.trades import ClosedTrade

if TYPE_CHECKING:
    from strategy.report import Summary
    from strategy.report_charts import PriceBars

log = logging.getLogger(__name__)
WEEK_MS = 7 * DAY_MS
MONDAY_MS = 4 * DAY_MS  # 1970-01-01 was a Thursday: weeks start on Monday 00:00 UTC
PERIODS = {"daily": DAY_MS, "weekly": WEEK_MS}
BUCKET_MS = {"daily": 60_000, "weekly": 300_000}  # price chart resolution (at least a bar)
BEST_WORST = 3  # symbols named as best and worst in the message


def period_start(kind: str, time_ms: int) -> int:
    """The start of the UTC day, or week (Monday), holding `time_ms`."""
    if kind == "weekly":
        return time_ms - (time_ms - MONDAY_MS) % WEEK_MS
    return time_ms - time_ms % DAY_MS


def period_label(kind: str, start_ms: int) -> str:
    day = dt.datetime.fromtimestamp(start_ms / 1000, dt.UTC).date()
    if kind == "weekly":
        year, week, _ = day.isocalendar()
        return f"{year}-W{week:02d}"
    return day.isoformat()


@dataclass(frozen=True)
class LiveReport:
    kind: str
    start_ms: int
    end_ms: int
    summary: Summary
    trades: list[ClosedTrade]
    signals: list[tuple[Signal, Decision]]
    path: Path  # its report.html

    def payload(self) -> dict[str, Any]:
        """What the webhook gets."""
        return {
            "report": self.kind, "start_ms": self.start_ms, "end_ms": self.end_ms,
            "signals": len(self.signals), "accepted": sum(d.accepted for _, d in self.signals),
            "summary": dataclasses.asdict(self.summary), "file": str(self.path),
        }  # fmt: skip

    def text(self) -> str:
        """What Telegram gets: seed 001 §9.1's daily (and weekly) metrics."""
        s, label = self.summary, period_label(self.kind, self.start_ms)
        accepted = sum(d.accepted for _, d in self.signals)
        held = [t.exit_time_ms - t.entry_time_ms for t in self.trades]
        lines = [
            f"{self.kind.upper()} REPORT {label} (UTC)",
            f"signals {len(self.signals)} · accepted {accepted} · trades {s.trades}",
            f"win rate {_pct(s.win_rate)} · wins/losses {s.wins}/{s.losses}",
            f"net PnL {s.net_pnl:+,.2f} · fees {s.fees:,.2f}"
            f" · profit factor {_num(s.profit_factor)}",
            f"return {s.return_pct:+.2f} % · max drawdown {s.max_drawdown_pct:.2f} %"
            f" · Sharpe {_num(s.sharpe)}",
            f"average hold {_minutes(sum(held) / len(held)) if held else '—'}",
        ]
        ranked = sorted(s.by_symbol.items(), key=lambda kv: kv[1].net_pnl, reverse=True)
        if self.kind == "weekly" and ranked:
            best = [f"{n} {g.net_pnl:+,.2f}" for n, g in ranked[:BEST_WORST] if g.net_pnl > 0]
            worst = [
                f"{n} {g.net_pnl:+,.2f}" for n, g in ranked[::-1][:BEST_WORST] if g.net_pnl < 0
            ]
            lines.append(f"best: {', '.join(best) or '—'} · worst: {', '.join(worst) or '—'}")
        lines.append(f"file {self.path}")
        return "\n".join(lines)


class ReportScheduler:
    """Call `tick(conn, processed_ms)` after each committed step; it writes and sends the
    reports whose period ended at or before `processed_ms` (the first call only sets the
    start: periods that ended before it are not reported)."""

    def __init__(self, config: StrategyConfig, notify: Notifiers | None = None) -> None:
        self.config, self.notify = config, notify
        self.root = Path(config.reports_dir) / config.worker_name
        self._next: dict[str, int] = {}  # kind -> end of the next period to report

    async def tick(self, conn: asyncpg.Connection, now_ms: int) -> list[LiveReport]:
        done = []
        for kind in self.config.reports:
            length = PERIODS[kind]
            end = self._next.setdefault(kind, period_start(kind, now_ms) + length)
            while now_ms >= end:
                report = await self._report(conn, kind, end - length, end)
                if report is not None:
                    done.append(report)
                end = self._next[kind] = end + length
        return done

    async def _report(
        self, conn: asyncpg.Connection, kind: str, start: int, end: int
    ) -> LiveReport | None:
        folder = self.root / kind / period_label(kind, start)
        if (folder / "report.json").exists():
            return None  # written before a restart
        report = await build(conn, self.config, kind, start, end, folder)
        log.info("%s report %s written to %s", kind, period_label(kind, start), report.path)
        if self.notify is not None:
            self.notify.report(report.payload(), report.text())
        return report


async def build(
    conn: asyncpg.Connection, config: StrategyConfig, kind: str, start: int, end: int, folder: Path
) -> LiveReport:
    """Read the period's trades, signals and bars (`conn` has the ms codec) and write the files."""
    # imported here: matplotlib would add most of a second to every worker start
    from strategy.report import RunInfo, marked_equity, summarize, write_report

    trades = await closed_trades(conn, config, start, end)
    signals = await period_signals(conn, config, start, end)
    symbols = sorted({t.symbol for t in trades} | {s.symbol for s, _ in signals})
    bucket = max(BUCKET_MS[kind], config.indicators.bar_ms)
    bars = await price_bars(
        conn, config.indicators.bar_ms, symbols, start, end, bucket, config.venue
    )
    initial = config.risk.equity + await realized_before(conn, config, start)
    equity = marked_equity(trades, bars, initial, start)
    summary = summarize(trades, equity, initial)
    title = f"Flowline {kind} report {period_label(kind, start)} · worker {config.worker_name}"
    run = RunInfo(
        start_ms=start, end_ms=end, bar_ms=bucket, bars=bars, signals=signals,
        settings=[("worker", config.worker_name), ("executor", config.executor),
                  ("venue", config.venue), ("strategies", ", ".join(_strategies(config)))],
        notes=[] if trades else [f"No trades closed in this period ({len(signals)} signals)."],
    )  # fmt: skip
    page = await asyncio.to_thread(write_report, summary, trades, equity, folder, title, run)
    return LiveReport(kind, start, end, summary, trades, signals, page)


def _strategies(config: StrategyConfig) -> list[str]:
    return [s.name for s in config.strategies if s.enabled]


_PAPER_TRADES = """
SELECT p.position_id, p.symbol, p.strategy, p.side, s.quality, p.entry_time, p.exit_time,
       p.entry_price, p.exit_price, p.qty, p.fees, p.realized_pnl, p.exit_reason
FROM positions p JOIN signals s ON s.signal_id = p.position_id
WHERE p.status = 'closed' AND p.entry_price IS NOT NULL AND p.mode = $1
  AND (p.worker = $2 OR p.worker IS NULL) AND p.exit_time >= $3 AND p.exit_time < $4
ORDER BY p.exit_time, p.position_id"""
# The exchange's realized profit is before fees; the exit price follows from it.
_EXCHANGE_TRADES = """
SELECT e.signal_id AS position_id, e.symbol, s.strategy, e.side, s.quality,
       e.opened_at AS entry_time, e.closed_at AS exit_time, e.entry_price,
       e.entry_price + e.realized_pnl / e.filled_qty * (CASE e.side WHEN 'LONG' THEN 1 ELSE -1 END)
           AS exit_price,
       e.filled_qty AS qty, e.fees, e.realized_pnl - e.fees AS realized_pnl,
       coalesce(e.reason, 'closed') AS exit_reason
FROM exchange_positions e JOIN signals s ON s.signal_id = e.signal_id
WHERE e.state = 'closed' AND e.filled_qty > 0 AND e.opened_at IS NOT NULL
  AND e.closed_at >= $1 AND e.closed_at < $2
ORDER BY e.closed_at, e.signal_id"""
# A spot deal is a LONG from its BUY's fill to its SELL's; what it sold is its quantity, its PnL is
# net of the commission (sql/036). Deals that sold nothing (bought less than a lot) have no PnL.
_SPOT_TRADES = """
SELECT d.deal_id AS position_id, d.symbol, d.strategy, 'LONG' AS side, s.quality,
       d.created_at AS entry_time, d.closed_at AS exit_time, d.fill_price AS entry_price,
       d.exit_price, d.sell_qty AS qty, d.fees, d.pnl AS realized_pnl, d.reason AS exit_reason
FROM spot_deals d JOIN signals s ON s.signal_id = d.deal_id
WHERE d.state = 'closed' AND d.pnl IS NOT NULL AND d.closed_at >= $1 AND d.closed_at < $2
ORDER BY d.closed_at, d.deal_id"""


async def closed_trades(
    conn: asyncpg.Connection, config: StrategyConfig, start: int, end: int
) -> list[ClosedTrade]:
    if config.executor == "binance":
        rows = await conn.fetch(_EXCHANGE_TRADES, start, end)
    elif config.executor == "binance-spot":
        rows = await conn.fetch(_SPOT_TRADES, start, end)
    else:
        rows = await conn.fetch(_PAPER_TRADES, config.executor, config.worker_name, start, end)
    return [_trade(r) for r in rows]


def _trade(r: asyncpg.Record) -> ClosedTrade:
    return ClosedTrade(
        signal_id=r["position_id"], symbol=r["symbol"], strategy=r["strategy"],
        side=Side(r["side"]), quality=Quality(r["quality"]), entry_time_ms=r["entry_time"],
        exit_time_ms=r["exit_time"], entry_price=r["entry_price"], exit_price=r["exit_price"],
        qty=r["qty"], fees=r["fees"], pnl=r["realized_pnl"], exit_reason=r["exit_reason"],
    )  # fmt: skip


async def realized_before(conn: asyncpg.Connection, config: StrategyConfig, start: int) -> float:
    """Net PnL the worker realized before `start` (the period's starting equity above the
    configured one)."""
    if config.executor == "binance":
        sql = """SELECT coalesce(sum(realized_pnl - fees), 0) FROM exchange_positions
                 WHERE state = 'closed' AND closed_at < $1"""
        return await conn.fetchval(sql, start)
    if config.executor == "binance-spot":
        sql = """SELECT coalesce(sum(pnl), 0) FROM spot_deals
                 WHERE state = 'closed' AND closed_at < $1"""
        return await conn.fetchval(sql, start)
    sql = """SELECT coalesce(sum(realized_pnl), 0) FROM positions
             WHERE status = 'closed' AND mode = $1 AND (worker = $2 OR worker IS NULL)
               AND exit_time < $3"""
    return await conn.fetchval(sql, config.executor, config.worker_name, start)


_SIGNALS = """
SELECT * FROM signals WHERE time >= $1 AND time < $2 AND strategy = ANY($3) AND venue = $4
ORDER BY time, signal_id"""


async def period_signals(
    conn: asyncpg.Connection, config: StrategyConfig, start: int, end: int
) -> list[tuple[Signal, Decision]]:
    """The signals of the worker's strategies made in the period, with their decisions (the
    signals table has no worker column: two workers running one strategy on the worker's venue
    share them)."""
    rows = await conn.fetch(_SIGNALS, start, end, _strategies(config), config.venue)
    return [
        (signal_from_row(r, r["time"]), Decision(r["decision"] == "accepted", r["decision"],
                                                 r["qty"] or 0.0))
        for r in rows
    ]  # fmt: skip


_BARS = """
SELECT symbol, time_bucket(make_interval(secs => $5 / 1000.0), time) AS bucket,
       max(high) AS high, min(low) AS low, last(close, time) AS close
FROM indicators
WHERE bar_ms = $1 AND symbol = ANY($2) AND time >= $3 AND time < $4 AND close IS NOT NULL
  AND venue = $6
GROUP BY 1, 2 ORDER BY 1, 2"""


async def price_bars(
    conn: asyncpg.Connection,
    bar_ms: int,
    symbols: list[str],
    start: int,
    end: int,
    bucket: int,
    venue: str = "binance",
) -> dict[str, PriceBars]:
    """Per symbol (bucket close ms, high, low, close) from the worker's recorded bars (of its
    venue: a worker on the other venue writes the same symbols' bars)."""
    bars: dict[str, list[tuple[int, float, float, float]]] = {}
    for r in await conn.fetch(_BARS, bar_ms, symbols, start, end, bucket, venue):
        bars.setdefault(r["symbol"], []).append((r["bucket"] + bucket, r["high"], r["low"],
                                                 r["close"]))  # fmt: skip
    return bars


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f} %"


def _num(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}"


def _minutes(ms: float) -> str:
    return f"{ms / 60_000:.0f} min"
