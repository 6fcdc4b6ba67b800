"""``python main.py demo``: the simulator, the recorder and the strategy worker, offline.

Starts the simulator on a free local port with the demo episode script, points the recorder at
it, applies the schema, records, runs the strategy worker (paper trading, strategy/demo.toml) on
what is recorded, and prints a psql command and queries to try. No API key, no internet.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import signal
from pathlib import Path

from collector.cli import Recorder, run_recorder, run_with_settings
from db.connect import connect
from db.migrate import migrate
from settings import Settings, redact_url
from sim.server import Simulator
from strategy.cli import run_strategy
from strategy.config import load_config

DEMO_SCRIPT = Path(__file__).resolve().parent.parent / "sim" / "scripts" / "demo.json"

QUERIES = """\
Try, in another terminal:
  {psql}
    SELECT * FROM candles_1m WHERE symbol = 'BTCUSDT' ORDER BY bucket DESC LIMIT 10;
    SELECT time, symbol, best_bid_price, best_ask_price FROM book_top ORDER BY time DESC LIMIT 5;
    SELECT * FROM data_gaps ORDER BY detected_at DESC;
    SELECT time, symbol, strategy, side, entry, stop, quality, decision FROM signals ORDER BY time;
    SELECT symbol, side, status, entry_price, exit_reason, realized_pnl FROM positions;
  curl -s http://127.0.0.1:{port}/health            (recorder)
  curl -s http://127.0.0.1:{strategy_port}/health   (strategy worker)
"""
DEMO_STRATEGY = Path(__file__).resolve().parent.parent / "strategy" / "demo.toml"


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="python main.py demo", description=__doc__)
    p.add_argument("--symbols", default="BTCUSDT,ETHUSDT")
    p.add_argument("--seconds", type=float, default=0, help="stop after this long (0: Ctrl-C)")
    p.add_argument("--rate", type=float, default=200.0, help="simulated book events/s per symbol")
    args = p.parse_args(argv)
    return run_with_settings(
        lambda settings: _demo(settings, args.symbols.split(","), args.seconds, args.rate)
    )


async def _demo(settings: Settings, symbols: list[str], seconds: float, rate: float) -> None:
    conn = await connect(settings.database_url)
    try:
        await migrate(conn)
    finally:
        await conn.close()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    if seconds:
        loop.call_later(seconds, stop.set)
    async with Simulator(symbols, seed=1, script=DEMO_SCRIPT, rate=rate) as sim:
        demo_settings = dataclasses.replace(
            settings,
            binance_ws_url=sim.ws_url,
            binance_rest_url=sim.http_url,
            symbols=tuple(symbols),
            top_n=None,
        )

        strategy_port: list[int] = []
        config = dataclasses.replace(
            load_config(DEMO_STRATEGY), symbols=tuple(symbols), executor="paper"
        )
        worker = asyncio.create_task(
            run_strategy(settings.database_url, config, stop, lambda _, p: strategy_port.append(p))
        )

        def ready(recorder: Recorder) -> None:
            print(
                f"simulator on {sim.http_url}; recording {', '.join(symbols)} into "
                f"{redact_url(settings.database_url)}",
                flush=True,
            )
            print(
                QUERIES.format(
                    psql=f"psql '{settings.database_url}'",
                    port=recorder.metrics_port,
                    strategy_port=strategy_port[0] if strategy_port else "?",
                ),
                flush=True,
            )

        try:
            await run_recorder(demo_settings, stop, on_ready=ready)
        finally:
            stop.set()
            await worker
