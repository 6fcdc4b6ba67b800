"""``python main.py demo``: the simulator, the recorder and the strategy worker, offline.

Starts the simulator on a free local port with the demo episode script, points the recorder at
it, applies the schema, records, and runs the strategy worker (paper trading,
strategy/demo.toml) on what is recorded. Says first what the first minutes will show, then a
status line every 10 s (rows/s per table, books in sync, gaps, signals, open positions, PnL);
at the end (Ctrl-C, or after --minutes) a summary with queries to try and the backtest command
for what was recorded. No API key, no internet.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import datetime as dt
import signal
import time
from pathlib import Path

import asyncpg

from collector.cli import Recorder, run_recorder
from db.connect import connect
from db.migrate import migrate
from db.readers import last_agg_trades, last_depth_updates
from runtime.bootstrap import run_with_settings
from settings import Settings, redact_url
from sim.script import Script, load_script
from sim.server import Simulator
from strategy.cli import run_strategy
from strategy.config import load_config

ROOT = Path(__file__).resolve().parent
DEMO_SCRIPT = ROOT / "sim" / "scripts" / "demo.json"
DEMO_STRATEGY = ROOT / "strategy" / "demo.toml"
STATUS_EVERY_S = 10.0

EPISODES = {  # what each scripted episode looks like to a trader
    "quiet": "a quiet market: thin trading, steady book",
    "panic_selloff": "a panic sell-off: market sells and a liquidation cascade push the price down",
    "trend": "a trend: one-sided market orders move the price step by step",
    "absorption": "absorption: heavy selling into a bid wall that is refilled, the price holds",
    "wall": "a wall: a large resting order appears, then is pulled",
    "breakout": "a breakout: a rush of orders through thinned liquidity",
}

QUERIES = """\
Try, in another terminal:
  {psql}
    SELECT * FROM candles_1m WHERE symbol = 'BTCUSDT' ORDER BY bucket DESC LIMIT 10;
    SELECT time, symbol, best_bid_price, best_ask_price FROM book_top ORDER BY time DESC LIMIT 5;
    SELECT * FROM data_gaps ORDER BY detected_at DESC;
    SELECT time, symbol, strategy, side, entry, stop, quality, decision FROM signals ORDER BY time;
    SELECT symbol, side, status, entry_price, exit_reason, realized_pnl FROM positions;
  curl -s http://127.0.0.1:{port}/health            (recorder)
  curl -s http://127.0.0.1:{strategy_port}/health   (strategy worker)"""


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="python main.py demo", description=__doc__)
    p.add_argument("--symbols", default="BTCUSDT,ETHUSDT")
    p.add_argument("--minutes", type=float, default=0, help="stop after this long (0: Ctrl-C)")
    p.add_argument("--seconds", type=float, default=0, help="the same in seconds (tests)")
    p.add_argument("--rate", type=float, default=200.0, help="simulated book events/s per symbol")
    args = p.parse_args(argv)
    seconds = args.seconds or args.minutes * 60
    return run_with_settings(
        lambda settings: _demo(settings, args.symbols.split(","), seconds, args.rate)
    )


async def _demo(settings: Settings, symbols: list[str], seconds: float, rate: float) -> None:
    conn = await connect(settings.database_url)
    try:
        await migrate(conn)
        # a demo run again on the same database continues the ids: a worker reading the
        # recording would otherwise take the new run's depth diffs for ones it has seen
        depth = await last_depth_updates(conn, symbols)
        trades = await last_agg_trades(conn, symbols)
    finally:
        await conn.close()
    ids = {s: (depth[s][0], trades[s][0]) for s in symbols if s in depth and s in trades}
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    if seconds:
        loop.call_later(seconds, stop.set)
    started = dt.datetime.now(dt.UTC)
    bybit = symbols if "bybit" in settings.venues else []  # VENUES=binance,bybit: both offline
    async with Simulator(
        symbols, seed=1, script=DEMO_SCRIPT, rate=rate, ids_after=ids, bybit_symbols=bybit
    ) as sim:
        demo_settings = dataclasses.replace(
            settings,
            binance_ws_url=sim.ws_url,
            binance_rest_url=sim.http_url,
            symbols=tuple(symbols),
            top_n=None,
            bybit_ws_url=sim.bybit_ws_url,
            bybit_rest_url=sim.http_url,
            bybit_symbols=tuple(bybit),
            bybit_top_n=None,
        )
        strategy_port: list[int] = []
        config = dataclasses.replace(
            load_config(DEMO_STRATEGY), symbols=tuple(symbols), executor="paper"
        )
        worker = asyncio.create_task(
            run_strategy(settings.database_url, config, stop, lambda _, p: strategy_port.append(p))
        )
        recorders: list[Recorder] = []
        status: list[asyncio.Task[None]] = []

        def ready(recorder: Recorder) -> None:
            recorders.append(recorder)
            print(f"simulator on {sim.http_url}; recording {', '.join(symbols)} into "
                  f"{redact_url(settings.database_url)}", flush=True)  # fmt: skip
            print(expectations(load_script(DEMO_SCRIPT), symbols, seconds), flush=True)
            status.append(
                asyncio.create_task(status_lines(settings.database_url, recorder, started))
            )

        try:
            await run_recorder(demo_settings, stop, on_ready=ready)
        finally:
            stop.set()
            for task in status:
                task.cancel()
            await worker
    if recorders:
        ports = (recorders[0].metrics_port, strategy_port[0] if strategy_port else "?")
        print(await summary(settings.database_url, recorders[0], started, symbols, ports))


def expectations(script: Script, symbols: list[str], seconds: float) -> str:
    """The first message: what the first two minutes (and the rest of the loop) will show."""
    lines = [f"What to expect (the simulator plays {DEMO_SCRIPT.relative_to(ROOT)}"
             f"{f', every {script.period:g} s' if script.repeat else ''}):"]  # fmt: skip
    for e in script.episodes:
        who = e.symbol or " and ".join(symbols)
        lines.append(f"  {_clock(e.start)}-{_clock(e.end)}  {who}: {EPISODES[e.kind]}")
    stop = f"after {seconds / 60:g} min" if seconds else "on Ctrl-C"
    lines += [
        "The strategy worker paper-trades 1 s bars (strategy/demo.toml). Its baselines fill in the",
        "first minute; the first signals come when the panic ends and its selling is absorbed",
        "(about 1:30-1:45), and the positions they open close within the next minutes.",
        f"A status line every {STATUS_EVERY_S:g} s; it stops {stop} and prints a summary.",
    ]
    return "\n".join(lines)


def _clock(seconds: float) -> str:
    return f"{int(seconds) // 60}:{int(seconds) % 60:02d}"


async def status_lines(database_url: str, recorder: Recorder, started: dt.datetime) -> None:
    """Every 10 s, one line of what the recorder and the worker did since the last one."""
    conn = await asyncpg.connect(database_url)
    try:
        before, then = _written(recorder), time.monotonic()
        while True:
            await asyncio.sleep(STATUS_EVERY_S)
            now, written = time.monotonic(), _written(recorder)
            rates = {t: (n - before.get(t, 0)) / (now - then) for t, n in written.items()}
            before, then = written, now
            print(await status_line(conn, recorder, started, rates), flush=True)
    finally:
        await conn.close()


def _written(recorder: Recorder) -> dict[str, int]:
    return {name: w.stats.rows_written for name, w in recorder.writers.items()}


async def status_line(
    conn: asyncpg.Connection, recorder: Recorder, started: dt.datetime, rates: dict[str, float]
) -> str:
    books = {s: b.valid for s, b in (recorder.keeper.books if recorder.keeper else {}).items()}
    if recorder.bybit is not None:
        books |= recorder.bybit.books_valid()
    figures = await _strategy_figures(conn, started)
    elapsed = (dt.datetime.now(dt.UTC) - started).total_seconds()
    per_table = ", ".join(f"{t} {r:,.{0 if r >= 10 else 1}f}" for t, r in rates.items() if r)
    return (
        f"[{_clock(elapsed)}] rows/s {per_table or 'none'} | books in sync "
        f"{sum(books.values())}/{len(books)} | gaps {figures['gaps']} | "
        f"signals {figures['signals']} ({figures['accepted']} accepted) | open positions "
        f"{figures['open']} | PnL realized {figures['realized']:+,.2f}, open "
        f"{figures['unrealized']:+,.2f}"
    )


# Counts since the demo started (a database may hold earlier runs); open positions are marked
# at their symbol's last recorded trade.
FIGURES_SQL = """
WITH mine AS (SELECT * FROM signals WHERE time >= $1)
SELECT (SELECT count(*) FROM data_gaps WHERE detected_at >= $1) AS gaps,
       (SELECT count(*) FROM mine) AS signals,
       (SELECT count(*) FROM mine WHERE decision = 'accepted') AS accepted,
       count(*) FILTER (WHERE p.status = 'open') AS open,
       count(*) FILTER (WHERE p.status = 'closed') AS closed,
       coalesce(sum(p.realized_pnl), 0) AS realized,
       coalesce(sum(CASE WHEN p.side = 'LONG' THEN 1 ELSE -1 END
                    * (last.price - p.entry_price) * p.remaining)
                FILTER (WHERE p.status = 'open'), 0) AS unrealized
FROM positions p
JOIN mine ON mine.signal_id = p.position_id
LEFT JOIN LATERAL (
    SELECT price FROM agg_trades a WHERE a.symbol = p.symbol ORDER BY a.time DESC LIMIT 1
) last ON p.status = 'open'
"""


async def _strategy_figures(conn: asyncpg.Connection, started: dt.datetime) -> asyncpg.Record:
    return await conn.fetchrow(FIGURES_SQL, started)


async def summary(
    database_url: str,
    recorder: Recorder,
    started: dt.datetime,
    symbols: list[str],
    ports: tuple[object, object],
) -> str:
    """The closing summary: totals, the queries to try and the backtest to run next."""
    ended = dt.datetime.now(dt.UTC)
    conn = await asyncpg.connect(database_url)
    try:
        f = await _strategy_figures(conn, started)
        refused = await conn.fetch(
            "SELECT decision, count(*) AS n FROM signals WHERE time >= $1 "
            "AND decision <> 'accepted' GROUP BY decision ORDER BY n DESC",
            started,
        )
    finally:
        await conn.close()
    rows = ", ".join(f"{t} {n:,}" for t, n in _written(recorder).items() if n)
    why = ", ".join(f"{r['decision']} {r['n']}" for r in refused) or "none"
    start = started.replace(second=0, microsecond=0)
    end = ended.replace(second=0, microsecond=0) + dt.timedelta(minutes=1)
    return "\n".join([
        f"Demo summary ({_clock((ended - started).total_seconds())} recorded, "
        f"{started:%Y-%m-%dT%H:%M:%SZ} .. {ended:%Y-%m-%dT%H:%M:%SZ}):",
        f"  rows written: {rows or 'none'}",
        f"  gaps declared: {f['gaps']}",
        f"  signals: {f['signals']} ({f['accepted']} accepted; refused: {why})",
        f"  positions: {f['closed']} closed, {f['open']} still open; realized PnL "
        f"{f['realized']:+,.2f}, open {f['unrealized']:+,.2f}",
        QUERIES.format(psql=f"psql '{database_url}'", port=ports[0], strategy_port=ports[1]),
        "Backtest what was just recorded, with the demo's config:",
        f"  python main.py backtest --config strategy/demo.toml --symbols {','.join(symbols)} "
        f"--start {start:%Y-%m-%dT%H:%M} --end {end:%Y-%m-%dT%H:%M} --out var/backtest/demo",
        "  then open var/backtest/demo/report.html",
    ])  # fmt: skip
