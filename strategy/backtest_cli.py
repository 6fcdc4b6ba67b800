"""``python main.py backtest --symbols BTCUSDT --start … --end … [--strategy …] [--out DIR]``.

Replays the recorded tables through the live worker's engine (paper executor) and writes a
report: report.html, report.json, trades.csv, equity.png. Same data and config, same files.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
from dataclasses import replace
from pathlib import Path

from db.coverage import range_warnings
from runtime.bootstrap import run_with_settings
from settings import Settings, SettingsError
from strategy.backtest import BacktestResult, run_backtest
from strategy.config import StrategyConfig, config_path, load_config, presets
from strategy.report import RunInfo, marked_equity, summarize, write_report


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="main.py backtest", description=__doc__)
    p.add_argument("--symbols", help="comma-separated (default: the config's / SYMBOLS)")
    p.add_argument("--start", type=_when, help="UTC, e.g. 2026-11-01 or 2026-11-01T12:00")
    p.add_argument("--end", type=_when, help="UTC, exclusive (default: the last recorded trade)")
    p.add_argument("--strategy", action="append", help="run only these (repeatable)")
    p.add_argument(
        "--config",
        type=Path,
        default=os.environ.get("STRATEGY_CONFIG") or None,
        help="TOML file (default: $STRATEGY_CONFIG, else built-in defaults; the demo's is "
        "strategy/demo.toml)",
    )
    p.add_argument("--preset", help="strategy/presets/NAME.toml: " + ", ".join(presets()))
    p.add_argument("--out", type=Path, default=Path("var/backtest"), help="report directory")
    return p.parse_args(argv)


def _when(text: str) -> int:
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date like 2026-11-01T12:00") from exc
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return int(moment.timestamp() * 1000)


def configure(args: argparse.Namespace) -> StrategyConfig:
    config = replace(load_config(config_path(args.config, args.preset)), executor="paper")
    if args.symbols:
        config = replace(config, symbols=tuple(s.strip().upper() for s in args.symbols.split(",")))
    if args.strategy:
        known = {s.name for s in config.strategies}
        unknown = set(args.strategy) - known
        if unknown:
            raise SettingsError(f"--strategy {', '.join(sorted(unknown))}: not in the config")
        specs = tuple(s for s in config.strategies if s.name in args.strategy)
        config = replace(config, strategies=specs)
    return config


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    try:
        config = configure(args)
    except SettingsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return run_with_settings(lambda settings: _backtest(settings, config, args))


async def _backtest(settings: Settings, config: StrategyConfig, args: argparse.Namespace) -> None:
    def progress(done: int, total: int, trades: int) -> None:
        print(f"\r{100 * done / max(total, 1):5.1f}%  {trades:,} agg trades", end="", flush=True)

    # from a given start, warmed up on the history before it as the live worker would be
    warm = args.start is not None
    result = await run_backtest(
        settings.database_url, config, args.start, args.end, progress, warm=warm
    )
    print()
    source = config_path(args.config, args.preset)
    path = report(result, config, args.out, source)
    print(summary_line(result))
    for note in why_no_trades(result, config, source):
        print(note)
    print(f"report: {path}")
    symbols = list(config.symbols)
    for line in await range_warnings(
        settings.database_url, symbols, result.start_ms, result.end_ms
    ):
        print(line, file=sys.stderr)


def report(
    result: BacktestResult, config: StrategyConfig, out: Path, config_path: Path | None = None
) -> Path:
    initial = config.risk.equity
    equity = marked_equity(result.trades, result.prices, initial, result.start_ms)
    summary = summarize(result.trades, equity, initial)
    title = f"Flowline backtest {', '.join(result.symbols)} {_iso(result.start_ms)} .. " + _iso(
        result.end_ms
    )
    run = RunInfo(
        start_ms=result.start_ms,
        end_ms=result.end_ms,
        bar_ms=config.indicators.bar_ms,
        settings=run_settings(result, config, config_path),
        notes=why_no_trades(result, config, config_path),
        bars=dict(result.prices),
        signals=result.signals,
    )
    return write_report(summary, result.trades, equity, out, title, run)


def _iso(ms: int) -> str:
    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC).isoformat()


def run_settings(
    result: BacktestResult, config: StrategyConfig, config_path: Path | None
) -> list[tuple[str, str]]:
    risk, paper = config.risk, config.paper
    return [
        ("range (UTC)", f"{_iso(result.start_ms)} .. {_iso(result.end_ms)} (end exclusive)"),
        ("symbols", ", ".join(result.symbols)),
        ("venue", config.venue),
        ("config", str(config_path) if config_path else "built-in defaults (no --config)"),
        ("strategies", ", ".join(s.name for s in config.strategies) or "none"),
        ("bar size", f"{config.indicators.bar_ms / 1000:g} s"),
        ("fees", f"{paper.fee_bps:g} bps per side (taker)"),
        ("slippage", f"{paper.slippage_bps:g} bps per fill, against the trade"),
        ("sizing", f"{risk.sizing} (risk per trade {risk.risk_per_trade:.2%} of equity)"),
        ("initial equity", f"{risk.equity:,.2f}"),
        ("bars replayed", f"{result.bars:,} ({result.bars_with_book:,} with a synced book)"),
        ("agg trades replayed", f"{result.agg_trades:,}"),
        ("equity curve", "marked to market at every bar close; drawdown from it"),
    ]


def why_no_trades(
    result: BacktestResult, config: StrategyConfig, config_path: Path | None
) -> list[str]:
    """Why a run has no trades, in a trader's words (nothing when it has some)."""
    if result.trades:
        return []
    if not result.agg_trades:
        return ["No trades: nothing was recorded for these symbols in this range."]
    accepted = sum(d.accepted for _, d in result.signals)
    if result.signals and not accepted:
        return [f"No trades: all {len(result.signals)} signals were refused by the risk manager "
                "(reasons below)."]  # fmt: skip
    if result.signals:
        return [f"No trades: {accepted} signals were accepted but none was filled before the "
                "data ended."]  # fmt: skip
    used = str(config_path) if config_path else "the built-in defaults"
    notes = [f"No trades: no strategy signalled on {result.bars:,} bars with {used}."]
    baseline = config.indicators.panic_baseline_bars
    if result.bars < baseline * len(result.symbols):
        notes.append(
            f"The indicators' baselines need {baseline:,} bars of "
            f"{config.indicators.bar_ms / 1000:g} s per symbol before some signals can fire. "
            "If this was recorded by `make demo` (minutes, not days), backtest it with the "
            "demo's config: --config strategy/demo.toml"
        )
    return notes


def summary_line(result: BacktestResult) -> str:
    accepted = sum(d.accepted for _, d in result.signals)
    pnl = sum(t.pnl for t in result.trades)
    rate = result.agg_trades / result.seconds if result.seconds else 0.0
    return (
        f"{result.agg_trades:,} agg trades, {result.bars:,} bars in {result.seconds:.1f} s "
        f"({rate:,.0f} trades/s); {len(result.signals)} signals ({accepted} accepted), "
        f"{len(result.trades)} trades, PnL {pnl:,.2f}"
    )
