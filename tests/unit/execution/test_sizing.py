"""Position sizing (risk, margin, fixed notional; from the account's balance when there is one),
lot-step and tick rounding shared by paper and Binance, and paper's stale-data flatten."""

from __future__ import annotations

from dataclasses import replace

import pytest

from settings import SettingsError
from strategy.config import PaperParams, RiskParams, StrategyConfig
from strategy.engine import Engine
from strategy.filters import SymbolFilters, step_of_quantities
from strategy.paper import PaperExecutor
from strategy.risk import RiskManager
from strategy.signals import Quality, Side, Signal
from strategy.source import MARK, SymbolRows

T0 = 1_790_000_000_000
BTC = SymbolFilters.recorded("BTCUSDT", 0.1, 0.001)


def signal(entry=60_000.0, stop=59_400.0, targets=(60_900.0,), side=Side.LONG, t=T0) -> Signal:
    return Signal(t, "BTCUSDT", "composite", side, entry, stop, targets, Quality.HIGH, 90.0, {})


def test_risk_sizing_is_rounded_down_to_the_lot_step():
    risk = RiskManager(RiskParams(equity=10_000, risk_per_trade=0.005), {"BTCUSDT": BTC})
    # 10 000 × 0.005 / 600 = 0.08333… BTC → 0.083 on a 0.001 step
    assert risk.decide(signal()).qty == 0.083


def test_margin_sizing_puts_a_share_of_equity_up_at_the_leverage():
    params = RiskParams(equity=10_000, sizing="margin", margin_per_trade_pct=2.0, leverage=5)
    # 2 % of 10 000 = 200 margin × 5 = 1 000 notional / 60 000 = 0.016666… → 0.016
    assert RiskManager(params, {"BTCUSDT": BTC}).decide(signal()).qty == 0.016


def test_fixed_notional_sizing_ignores_the_stop():
    params = RiskParams(sizing="notional", fixed_notional=1_500.0)
    risk = RiskManager(params, {"BTCUSDT": BTC})
    assert risk.decide(signal(stop=50_000.0)).qty == 0.025


def test_the_accounts_balance_replaces_the_configured_equity():
    risk = RiskManager(RiskParams(equity=10_000, risk_per_trade=0.005), {"BTCUSDT": BTC})
    risk.balance = 2_400.0  # what the exchange says the wallet holds
    assert risk.equity == 2_400.0
    assert risk.decide(signal()).qty == 0.02  # 2 400 × 0.005 / 600


def test_a_size_below_one_lot_step_is_refused():
    risk = RiskManager(RiskParams(equity=100, risk_per_trade=0.005), {"BTCUSDT": BTC})
    assert risk.decide(signal()).reason == "below_lot_step"  # 0.000833 BTC


def test_an_unknown_sizing_names_the_setting():
    with pytest.raises(SettingsError, match=r"\[risk\] sizing = 'kelly': expected one of risk"):
        RiskParams(sizing="kelly")


def test_lot_step_from_recorded_quantities():
    assert step_of_quantities([0.150, 0.137, 2.0]) == 0.001
    assert step_of_quantities([0.005, 0.010, 0.015]) == 0.005
    assert step_of_quantities([]) is None


def test_paper_prices_and_quantities_are_on_the_tick_and_step():
    paper = PaperExecutor(PaperParams(fee_bps=4.0, slippage_bps=1.0), {"BTCUSDT": BTC})
    pos = paper.submit(signal(stop=59_400.04, targets=(60_900.06, 61_800.0)), 0.21214898663894374)
    assert (pos.qty, pos.stop, pos.targets) == (0.212, 59_400.0, [60_900.1, 61_800.0])
    paper.on_trade("BTCUSDT", T0 + 1, 60_000.0)  # entry: 60 000 × (1 + 1 bp) = 60 006.0
    paper.on_trade("BTCUSDT", T0 + 2, 60_950.0)  # target 1: half of 0.212
    assert [(f.kind, f.qty, f.price) for f in pos.fills] == [
        ("entry", 0.212, 60_006.0),
        ("target1", 0.106, 60_900.1),
    ]
    paper.on_trade("BTCUSDT", T0 + 3, 60_000.0)  # back to the entry: the breakeven stop
    assert pos.fills[-1].kind == "breakeven" and pos.fills[-1].price == 59_994.0  # − 1 bp
    assert all(round(f.price / 0.1) * 0.1 == pytest.approx(f.price, abs=1e-9) for f in pos.fills)


def test_paper_half_target_below_one_step_exits_whole_at_the_first():
    paper = PaperExecutor(PaperParams(slippage_bps=0.0), {"BTCUSDT": BTC})
    pos = paper.submit(signal(targets=(60_900.0, 61_800.0)), 0.001)
    paper.on_trade("BTCUSDT", T0 + 1, 60_000.0)
    paper.on_trade("BTCUSDT", T0 + 2, 60_900.0)
    assert pos.status == "closed" and [f.qty for f in pos.fills] == [0.001, 0.001]


def rows(trade_times: list[int], mark_times: list[int]) -> dict[str, SymbolRows]:
    return {
        "BTCUSDT": SymbolRows(
            trade_times=trade_times,
            trade_prices=[60_000.0] * len(trade_times),
            trade_qtys=[0.01] * len(trade_times),
            trade_makers=[False] * len(trade_times),
            events=[(t, MARK, (60_000.0, 0.0001)) for t in mark_times],
        )
    }


def paper_engine() -> Engine:
    config = StrategyConfig(symbols=("BTCUSDT",), executor="paper", strategies=())
    config = replace(config, paper=PaperParams(stale_flatten_ms=30_000))
    engine = Engine(config, {"BTCUSDT": 0.1}, {"BTCUSDT": 0.001})
    assert engine.paper is not None
    engine.paper.submit(signal(t=T0 - 1), 0.05)
    return engine


def test_paper_position_of_a_quiet_symbol_with_live_streams_stays_open():
    engine = paper_engine()
    marks = list(range(T0, T0 + 180_000, 1_000))  # a mark price every second, one trade
    out = engine.feed(rows([T0 + 10], marks), T0 + 180_000)
    assert [p.status for p in out.positions.values()] == ["open"]
    assert engine.paper is not None and "BTCUSDT" in engine.paper.positions


def test_paper_position_is_flattened_when_the_symbols_streams_go_silent():
    engine = paper_engine()
    marks = list(range(T0, T0 + 60_000, 1_000))  # the streams stop after 59 s
    out = engine.feed(rows([T0 + 10], marks), T0 + 180_000)
    (pos,) = out.positions.values()
    assert (pos.status, pos.exit_reason) == ("closed", "stale_data")
    # at the first 1 m bar boundary more than 30 s after the last mark price (T0 + 59 s)
    boundaries = range(T0 - T0 % 60_000 + 60_000, T0 + 180_000, 60_000)
    assert pos.exit_time_ms == next(b for b in boundaries if b - (T0 + 59_000) > 30_000)
    assert pos.exit_price == 59_994.0  # the last trade, 1 bp of slippage, on the tick
    assert [t.exit_reason for t in out.closed] == ["stale_data"]
