"""Daily and weekly reports of a live worker: recorded signals, positions and bars in the real
database, the scheduler driven by a clock argument (the worker's processed time), the report
sent through a Telegram notifier to a fake Bot API."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from pathlib import Path

import asyncpg
import orjson
import pytest

from strategy.config import StrategyConfig
from strategy.live_report import DAY_MS, ReportScheduler, period_start
from strategy.notify import Notifiers
from strategy.report import marked_equity, summarize
from strategy.risk import Decision
from strategy.signals import Quality, Side, Signal
from strategy.source import setup_reader
from strategy.store import write_signals
from tests.integration.strategy.test_telegram import bot_api  # noqa: F401 (fixture)

MONDAY = int(dt.datetime(2026, 11, 30, tzinfo=dt.UTC).timestamp() * 1000)
HOUR = 3_600_000
CONFIG = StrategyConfig(worker_name="live", executor="paper")


def signal(symbol: str, at: int, side: Side = Side.LONG) -> Signal:
    stop = 90.0 if side is Side.LONG else 110.0
    target = 120.0 if side is Side.LONG else 80.0
    return Signal(at, symbol, "scored_imbalance", side, 100.0, stop, (target,), Quality.MEDIUM,
                  70.0, {"imbalance": 0.3})  # fmt: skip


_POSITION = """
INSERT INTO positions (position_id, mode, worker, symbol, strategy, side, qty, remaining, status,
                       stop, targets, targets_hit, entry_price, entry_time, exit_price, exit_time,
                       exit_reason, fees, realized_pnl)
VALUES ($1, $2, $3, $4, 'scored_imbalance', $5, 2.0, 0, 'closed', $6, $7, 0, 100.0, $8, $9,
        $10, $11, 0.1, $12)"""
_BARS = """
INSERT INTO indicators (time, symbol, bar_ms, open, high, low, close, volume, buy_volume,
    sell_volume, delta, trades, large_buys, large_sells, book_valid, absorption_side,
    panic_direction, liq_sell_notional, liq_buy_notional, cascade_side, cascade_exhausted,
    fp_buy_imbalances, fp_sell_imbalances, fp_buy_zones, fp_sell_zones, divergence)
SELECT t, $1, 60000, 100, 107, 95, 100 - (extract(minute FROM t)::int % 5), 1, 0.5, 0.5, 0, 3,
       0, 0, true, 0, 0, 0, 0, 0, false, 0, 0, 0, 0, 0
FROM generate_series($2::timestamptz, $3::timestamptz, interval '1 minute') AS t"""


async def record(conn: asyncpg.Connection) -> dict[str, Signal]:
    """Closed paper trades of worker `live`: one the day before, one in Monday, one entered on
    Monday and closed on Tuesday; a refused signal on Monday; another worker's trade."""
    made = {
        "before": signal("BTCUSDT", MONDAY - 3 * HOUR),
        "monday": signal("BTCUSDT", MONDAY + HOUR),
        "overnight": signal("ETHUSDT", MONDAY + 23 * HOUR, Side.SHORT),
        "refused": signal("ETHUSDT", MONDAY + 3 * HOUR),
        "other": signal("SOLUSDT", MONDAY + 2 * HOUR),
    }
    decided = [(s, Decision(k != "refused", "accepted" if k != "refused" else "max_concurrent",
                            2.0)) for k, s in made.items()]  # fmt: skip
    await write_signals(conn, decided)
    trades = [  # (key, worker, exit after the signal, exit price, net pnl)
        ("before", "live", HOUR, 102.6, 5.0),
        ("monday", "live", HOUR, 115.1, 30.0),
        ("overnight", "live", 2 * HOUR, 105.0, -10.1),
        ("other", "someone else", HOUR, 110.0, 20.0),
    ]
    for key, worker, held, price, pnl in trades:
        s = made[key]
        await conn.execute(
            _POSITION, s.signal_id, "paper", worker, s.symbol, s.side.value, s.stop,
            list(s.targets), s.time_ms, price, s.time_ms + held, "time", pnl,
        )  # fmt: skip
    for symbol in ("BTCUSDT", "ETHUSDT"):
        await conn.execute(_BARS, symbol, MONDAY - DAY_MS, MONDAY + 8 * DAY_MS)
    return made


async def test_reports_are_written_and_sent_at_utc_day_and_week_ends(
    strategy_db: str,
    tmp_path: Path,
    bot_api,  # noqa: F811
):
    conn = await asyncpg.connect(strategy_db)
    await setup_reader(conn)
    try:
        made = await record(conn)
        config = replace(CONFIG, reports_dir=str(tmp_path))
        notify = Notifiers(None, bot_api.config())
        assert notify.telegram is not None
        notify.telegram.min_interval = 0.0
        notify.start()
        scheduler = ReportScheduler(config, notify)
        assert await scheduler.tick(conn, MONDAY + 5 * HOUR) == []  # the clock starts
        assert await scheduler.tick(conn, MONDAY + DAY_MS - 1) == []
        [daily] = await scheduler.tick(conn, MONDAY + DAY_MS)
        assert await scheduler.tick(conn, MONDAY + DAY_MS + HOUR) == []  # once
        # a restarted worker finds the file and does not report the day again
        again = ReportScheduler(config, None)
        assert await again.tick(conn, MONDAY + 5 * HOUR) == []
        assert await again.tick(conn, MONDAY + DAY_MS) == []
        later = await scheduler.tick(conn, MONDAY + 7 * DAY_MS)
        await notify.close()
    finally:
        await conn.close()

    # Monday: the trade that closed on Monday; its signals, the refused one included
    assert (daily.kind, daily.start_ms, daily.end_ms) == ("daily", MONDAY, MONDAY + DAY_MS)
    assert [t.signal_id for t in daily.trades] == [made["monday"].signal_id]
    assert [(s.signal_id, d.reason) for s, d in daily.signals] == [
        (made["monday"].signal_id, "accepted"), (made["other"].signal_id, "accepted"),
        (made["refused"].signal_id, "max_concurrent"), (made["overnight"].signal_id, "accepted"),
    ]  # fmt: skip
    s = daily.summary
    assert (s.trades, s.wins, s.losses, s.net_pnl) == (1, 1, 0, 30.0)
    assert s.initial_equity == CONFIG.risk.equity + 5.0  # what the worker realized before
    assert s.final_equity == s.initial_equity + 30.0
    assert s.max_drawdown > 0  # marked to market on the recorded bar closes
    # the backtest report's own figures over the same trades and bars
    folder = tmp_path / "live" / "daily" / "2026-11-30"
    assert daily.path == folder / "report.html"
    written = orjson.loads((folder / "report.json").read_bytes())["summary"]
    assert written["net_pnl"] == 30.0 and written["trades"] == 1
    assert (folder / "trades.csv").read_text().count("\n") == 2
    assert (folder / "equity.png").stat().st_size > 0

    # a week later: the six other days (empty but written) and the week, Monday to Sunday
    assert [(r.kind, r.start_ms) for r in later] == [
        ("daily", MONDAY + d * DAY_MS) for d in range(1, 7)
    ] + [("weekly", MONDAY)]
    tuesday, weekly = later[0], later[-1]
    assert [t.signal_id for t in tuesday.trades] == [made["overnight"].signal_id]
    assert (weekly.summary.trades, weekly.summary.wins, weekly.summary.losses) == (2, 1, 1)
    assert round(weekly.summary.net_pnl, 6) == round(30.0 - 10.1, 6)
    bars = {"BTCUSDT": [], "ETHUSDT": []}  # no bars: the figures that do not depend on them
    plain = summarize(weekly.trades, marked_equity(weekly.trades, bars, 10_005.0, MONDAY), 10_005.0)
    assert (plain.win_rate, plain.profit_factor) == (weekly.summary.win_rate,
                                                    weekly.summary.profit_factor)  # fmt: skip
    assert (tmp_path / "live" / "weekly" / "2026-W49" / "report.html").exists()
    assert period_start("weekly", MONDAY + 6 * DAY_MS + 5 * HOUR) == MONDAY

    # the notifier got each report's text, in order
    texts = [b["text"] for _, _, b in bot_api.requests]
    assert len(texts) == 1 + 6 + 1
    assert texts[0].splitlines()[:3] == [
        "DAILY REPORT 2026-11-30 (UTC)",
        "signals 4 · accepted 3 · trades 1",
        "win rate 100.0 % · wins/losses 1/0",
    ]
    assert texts[-1].startswith("WEEKLY REPORT 2026-W49 (UTC)")
    assert "best: BTCUSDT +30.00 · worst: ETHUSDT -10.10" in texts[-1]


_SPOT_DEAL = """
INSERT INTO spot_deals (deal_id, symbol, strategy, state, quota, markup, stop_frac, buy_price,
                        buy_qty, filled_qty, fill_price, sell_price, sell_qty, exit_price, pnl,
                        fees, reason, created_at, closed_at)
VALUES ($1, $2, 'macd_book', $3, 1000, 0.01, 0.03, 100, 10, 10, 100, 101, 9.99, $4, $5, $6, $7,
        $8, $9)"""


async def test_spot_reports_read_the_closed_spot_deals(strategy_db: str, tmp_path: Path):
    conn = await asyncpg.connect(strategy_db)
    await setup_reader(conn)
    try:
        await conn.execute("TRUNCATE spot_deals")
        made = {k: replace(signal("BTCUSDT", MONDAY + h * HOUR), strategy="macd_book")
                for k, h in (("before", -3), ("target", 1), ("stop", 4), ("cancelled", 5),
                             ("dust", 6))}  # fmt: skip
        await write_signals(conn, [(s, Decision(True, "accepted", 10.0)) for s in made.values()])
        deals = [  # (key, state, exit price, fees, reason)
            ("before", "closed", 101.0, 2.0, "target"),
            ("target", "closed", 101.0, 2.01, "target"),
            ("stop", "closed", 97.0, 1.97, "stop_emergency"),
            ("cancelled", "cancelled", None, 0.0, "buy not filled in 3 attempt(s)"),
            ("dust", "closed", None, 0.0, "bought less than one lot after the commission"),
        ]
        for key, state, price, fees, reason in deals:
            s = made[key]
            pnl = None if price is None else 9.99 * (price - 100) - fees
            await conn.execute(
                _SPOT_DEAL, s.signal_id, s.symbol, state, price, pnl, fees, reason, s.time_ms,
                s.time_ms + HOUR,
            )  # fmt: skip
        await conn.execute(_BARS, "BTCUSDT", MONDAY - DAY_MS, MONDAY + 2 * DAY_MS)
        config = StrategyConfig(worker_name="spot", executor="binance-spot",
                                reports_dir=str(tmp_path))  # fmt: skip
        scheduler = ReportScheduler(replace(config, reports=("daily",)), None)
        assert await scheduler.tick(conn, MONDAY + HOUR) == []
        [daily] = await scheduler.tick(conn, MONDAY + DAY_MS)
    finally:
        await conn.close()
    # the two deals that sold in the day, as LONG trades from the BUY's fill to the SELL's
    assert [(t.signal_id, t.side, t.exit_reason) for t in daily.trades] == [
        (made["target"].signal_id, Side.LONG, "target"),
        (made["stop"].signal_id, Side.LONG, "stop_emergency"),
    ]
    first = daily.trades[0]
    assert (first.entry_price, first.exit_price, first.qty) == (100.0, 101.0, 9.99)
    assert (first.entry_time_ms, first.exit_time_ms) == (made["target"].time_ms,
                                                         made["target"].time_ms + HOUR)  # fmt: skip
    s = daily.summary
    net = (9.99 * 1 - 2.01) + (9.99 * -3 - 1.97)  # the deals' PnL, net of their commission
    assert (s.trades, s.wins, s.losses) == (2, 1, 1)
    assert s.net_pnl == pytest.approx(net) and s.fees == pytest.approx(2.01 + 1.97)
    assert s.initial_equity == pytest.approx(config.risk.equity + 9.99 - 2.0)  # closed before
    assert s.final_equity == pytest.approx(s.initial_equity + net)
