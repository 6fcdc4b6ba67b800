"""STRATEGY_VENUE / [worker] venue: a bad value is one line and exit 2, for the worker and the
backtest; a backtest of a venue with nothing recorded says which venue it looked at; a worker
switched to another venue is a changed config (its stored watermark is not reused silently)."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from pathlib import Path

from strategy.config import StrategyConfig, fingerprint, load_config
from tests.integration.strategy.test_bad_input import QUIET, cli

VENUE_ERROR = "expected one of binance, bybit, got 'kraken'"


async def test_a_bad_venue_is_one_line_and_exit_2(tmp_path: Path):
    path = tmp_path / "venue.toml"
    path.write_text("[worker]\nvenue = 'kraken'\n")
    runs = await asyncio.gather(
        cli("strategy", env={"STRATEGY_VENUE": "kraken"}),
        cli("backtest", "--symbols", "BTCUSDT", env={"STRATEGY_VENUE": "kraken"}),
        cli("strategy", "--config", str(path)),
    )
    assert runs == [
        (2, [f"error: STRATEGY_VENUE: {VENUE_ERROR}"]),
        (2, [f"error: STRATEGY_VENUE: {VENUE_ERROR}"]),
        (2, [f"error: [worker] venue: {VENUE_ERROR}"]),
    ]
    assert load_config(None, env={"STRATEGY_VENUE": "bybit"}).venue == "bybit"


async def test_a_backtest_of_an_unrecorded_venue_names_it(record_session, strategy_db: str):
    await record_session(QUIET, 10, symbols=["BTCUSDT"], speed=10)  # Binance's rows only
    env = {"DATABASE_URL": strategy_db, "STRATEGY_VENUE": "bybit"}
    code, lines = await cli("backtest", "--symbols", "BTCUSDT", env=env)
    assert (code, lines) == (2, ["error: backtest: nothing is recorded for BTCUSDT on bybit"])


def test_the_venue_shapes_the_fingerprint():
    binance = StrategyConfig(symbols=("BTCUSDT",))
    assert binance.venue == "binance"
    assert fingerprint(replace(binance, venue="bybit")) != fingerprint(binance)
