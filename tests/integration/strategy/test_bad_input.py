"""Bad input to `python main.py strategy` and `backtest`: exit 2 and one line naming the key (or
the symbol, the worker name, the range) and what is allowed; no traceback. Run as a user does."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import signal
import sys
from pathlib import Path

import asyncpg

from strategy.config import fingerprint, load_config

ROOT = Path(__file__).resolve().parents[3]
QUIET = {"episodes": [{"kind": "quiet", "start": 0, "duration": 20}]}
ENV = {"PYTHONWARNINGS": "ignore"}  # the child's own output only
NO_KEYS = ("BINANCE_API_KEY", "BINANCE_API_SECRET", "STRATEGY_SYMBOLS", "STRATEGY_CONFIG",
           "EXECUTION", "SYMBOLS", "TELEGRAM_BOT_TOKEN", "TELEGRAM_CHAT_ID",
           "BINANCE_SPOT_API_KEY", "BINANCE_SPOT_API_SECRET", "BINANCE_SPOT_TRADE_REST_URL",
           "BINANCE_LIVE")  # fmt: skip
STRATEGIES = "composite, macd_book, scored_imbalance, wall"


async def cli(*args: str, env: dict[str, str] | None = None) -> tuple[int, list[str]]:
    """Run `python main.py ARGS`; its exit code and the lines it wrote (stdout and stderr)."""
    base = {k: v for k, v in os.environ.items() if k not in NO_KEYS}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "main.py", *args, cwd=ROOT, env=base | ENV | (env or {}),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    out, _ = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode is not None
    return proc.returncode, out.decode().splitlines()


CONFIG_ERRORS = [
    ("[indicator]\nbar = '1s'\n",
     "[indicator]: unknown section (allowed: worker, indicators, risk, paper, universe, "
     "anomaly, strategies)"),
    ("[risk]\nequity = -5\n", "[risk] equity: expected > 0, got -5"),
    ("[risk]\nrisk_per_trade = -0.01\n",
     "[risk] risk_per_trade: expected > 0 and <= 1 (a fraction of equity), got -0.01"),
    ("[indicators]\nwall_k_mult = -1.0\n",
     "[indicators] wall_k_mult: expected >= 1 (times the median level), got -1.0"),
    ('[risk]\nmax_concurrent = "five"\n', "[risk] max_concurrent: expected an integer, got 'five'"),
    ("[worker]\nsettle = 'soon'\n",
     "[worker] settle: 'soon' is not a duration like 30s, 12h or 7d"),
    ("[risk]\ncooldown_ms = 5\n", "[risk] cooldown_ms: unknown setting (use cooldown)"),
    ("[universe]\nmin_volume = 5\n",
     "[universe] min_volume: unknown setting (allowed: check, min_volume_24h, min_open_interest, "
     "max_spread_pct, min_score, gainers, losers, emergency_spread_pct)"),
    ("[anomaly]\nsigmas = 3\n",
     "[anomaly] sigmas: unknown setting (allowed: enabled, sigma, window, min_samples, calm, "
     "trade_rate, price_jump, spread, data_age)"),
    ("[anomaly]\nwindow = 10\nmin_samples = 20\n",
     "[anomaly] min_samples = 20: expected <= window (10)"),
    ("[worker]\nreports = ['hourly']\n",
     """[worker] reports: expected a list of "daily", "weekly" (or []), got ['hourly']"""),
    ("[strategies.walls]\nenabled = true\n",
     f"[strategies.walls]: unknown strategy (known: {STRATEGIES})"),
    ("[strategies.wall.params]\nerosion_mn = 0.3\n",
     "[strategies.wall] erosion_mn: unknown parameter (allowed: erosion_min, break_bps, "
     "breakout_stop_bps, touch_bps, hold_bars, hold_max_erosion, bounce_stop_bps, memory_bars, "
     "targets_r, cooldown_bars, breakout, bounce, high_score, medium_score, density_min_notional, "
     "density_neighbours, density_neighbour_mult, density_side_pct, touch_ticks, "
     "entry_offset_ticks, bounce_exit_erosion, bounce_max_activity, tp_slowdown_mult, "
     "tp_slowdown_bars, tp_counter_bps, tp_counter_delta, tp_extrema_hours, trend_hours, "
     "trend_book)"),
    ("[strategies.composite.params]\ncooldown_bars = -3\n",
     "[strategies.composite] cooldown_bars: expected >= 0"),
]  # fmt: skip


async def test_a_bad_strategy_config_is_one_line_and_exit_2(tmp_path: Path):
    runs = []
    for i, (text, _) in enumerate(CONFIG_ERRORS):
        path = tmp_path / f"bad{i}.toml"
        path.write_text(text)
        runs.append(cli("strategy", "--config", str(path)))
    runs.append(cli("strategy", env={"EXECUTION": "binance"}))
    runs.append(cli("strategy", env={"EXECUTION": "binance-spot"}))
    spot_keys = {"BINANCE_SPOT_API_KEY": "k", "BINANCE_SPOT_API_SECRET": "s"}
    production = {**spot_keys, "BINANCE_SPOT_TRADE_REST_URL": "https://api.binance.com"}
    runs.append(cli("strategy", env={"EXECUTION": "binance-spot", **production}))
    runs.append(cli("strategy", env={"STRATEGY_SYMBOLS": "top:0"}))
    runs.append(cli("strategy", env={"TELEGRAM_BOT_TOKEN": "1:SECRET"}))
    expected = [line for _, line in CONFIG_ERRORS] + [
        "BINANCE_API_KEY is required to trade on Binance (EXECUTION=binance, flatten)",
        "BINANCE_SPOT_API_KEY is required to trade spot (EXECUTION=binance-spot)",
        "BINANCE_SPOT_TRADE_REST_URL points at production Binance (api.binance.com): real money"
        " needs BINANCE_LIVE=1; for demo trading use https://testnet.binance.vision",
        "STRATEGY_SYMBOLS=top:N needs 1 <= N <= 1000, got 'top:0'",
        "TELEGRAM_BOT_TOKEN and TELEGRAM_CHAT_ID are set together",
    ]
    for (code, lines), line in zip(await asyncio.gather(*runs), expected, strict=True):
        assert (code, lines) == (2, [f"error: {line}"])


async def test_unknown_symbol_changed_config_and_empty_ranges(
    record_session, strategy_db: str, tmp_path: Path
):
    session = await record_session(QUIET, 20, symbols=["BTCUSDT"], speed=10)
    env = {"DATABASE_URL": strategy_db, "STRATEGY_METRICS_PORT": "0"}

    # a symbol no recorder has recorded: the worker would wait for it forever
    code, lines = await cli("strategy", env=env | {"STRATEGY_SYMBOLS": "BTCUSDT,NOTACOIN"})
    assert (code, lines) == (2, [
        "error: STRATEGY_SYMBOLS: NOTACOIN is not a recorded instrument (recorded: BTCUSDT); "
        "add it to the recorder's SYMBOLS first"
    ])  # fmt: skip

    # worker_name "default" last ran with another config
    old, new = tmp_path / "old.toml", tmp_path / "new.toml"
    old.write_text('[worker]\nsymbols = ["BTCUSDT"]\n[risk]\nrisk_per_trade = 0.01\n')
    new.write_text('[worker]\nsymbols = ["BTCUSDT"]\n[risk]\nrisk_per_trade = 0.02\n')
    conn = await asyncpg.connect(strategy_db)
    try:
        await conn.execute(
            "INSERT INTO strategy_state (worker, bar_ms, processed, config_fingerprint)"
            " VALUES ('default', 60000, $1, $2)",
            dt.datetime.fromtimestamp(session.end_ms // 60_000 * 60, dt.UTC),
            fingerprint(load_config(old, env={})),
        )
        code, lines = await cli("strategy", "--config", str(new), env=env)
        assert (code, lines) == (2, [
            "error: worker_name 'default' was run with another config: start with --reset to "
            "begin again under this name, or set [worker] worker_name to a new name"
        ])  # fmt: skip
        for args in (["--config", str(old)], ["--config", str(new), "--reset"]):
            await _starts(args, env)  # the same config resumes; --reset begins again
        assert await conn.fetchval("SELECT count(*) FROM strategy_state") == 0  # by --reset
    finally:
        await conn.close()

    day = dt.datetime.fromtimestamp(session.start_ms / 1000, dt.UTC).date().isoformat()
    recorded = f"(BTCUSDT recorded from {day}T"
    for start, end, says in [
        ("2026-11-08", "2026-11-01", "--start 2026-11-08T00:00:00Z is not before --end"),
        ("2031-01-01", None, "nothing recorded in that range"),
        ("2020-01-01", "2020-01-02", "nothing recorded in that range"),
    ]:
        args = ["backtest", "--symbols", "BTCUSDT", "--start", start, "--out", str(tmp_path)]
        code, lines = await cli(*args, *(["--end", end] if end else []), env=env)
        assert code == 2 and len(lines) == 1, lines
        assert lines[0].startswith(f"error: backtest: {says}") and recorded in lines[0], lines


async def _starts(args: list[str], env: dict[str, str]) -> None:
    """The worker passes its start-up checks and runs until SIGTERM (exit 0)."""
    base = {k: v for k, v in os.environ.items() if k not in NO_KEYS}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "main.py", "strategy", *args, cwd=ROOT, env=base | ENV | env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    assert proc.stdout is not None
    seen = []
    try:
        async with asyncio.timeout(30):
            while not any("strategy worker resumes" in line for line in seen):
                line = (await proc.stdout.readline()).decode()
                assert line, "\n".join(seen)  # it exited
                seen.append(line)
    finally:
        proc.send_signal(signal.SIGTERM)
        await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 0, "\n".join(seen)
