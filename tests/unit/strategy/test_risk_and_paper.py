"""The risk manager's limits and the paper executor's fills, on hand-computed numbers."""

from __future__ import annotations

from pathlib import Path

import pytest

from settings import SettingsError
from strategy.config import PaperParams, RiskParams, load_config
from strategy.paper import PaperExecutor, closed_trade
from strategy.risk import RiskManager
from strategy.signals import Quality, Side, Signal

T0 = 1_790_000_000_000


def signal(symbol="BTCUSDT", side=Side.LONG, entry=100.0, stop=98.0, targets=(104.0,),
           time_ms=T0, quality=Quality.HIGH) -> Signal:  # fmt: skip
    return Signal(time_ms, symbol, "composite", side, entry, stop, targets, quality, 90.0, {})


def test_size_comes_from_risk_per_trade_and_stop_distance():
    risk = RiskManager(RiskParams(equity=10_000, risk_per_trade=0.01, max_exposure=100))
    decision = risk.decide(signal(entry=100, stop=98))
    assert decision.accepted and decision.qty == pytest.approx(10_000 * 0.01 / 2)


def test_a_burst_of_signals_is_held_to_max_concurrent_and_one_per_symbol():
    risk = RiskManager(RiskParams(max_concurrent=3, max_exposure=100))
    burst = [signal(symbol=f"S{i}USDT") for i in range(6)] + [signal(symbol="S0USDT")]
    reasons = [risk.decide(s).reason for s in burst]
    assert reasons == ["accepted"] * 3 + ["max_concurrent"] * 3 + ["position_open"]
    risk.on_closed("S1USDT", 5.0, T0 + 1)
    assert risk.decide(signal(symbol="S9USDT")).accepted


def test_daily_limit_per_quality_resets_at_utc_midnight():
    risk = RiskManager(RiskParams(max_daily={"HIGH": 2, "MEDIUM": 0, "LOW": 0}, max_exposure=100))
    day = T0 - T0 % 86_400_000
    for i in range(2):
        assert risk.decide(signal(symbol=f"A{i}USDT", time_ms=day + i)).accepted
        risk.on_closed(f"A{i}USDT", 1.0, day + i)
    assert risk.decide(signal(symbol="B0USDT", time_ms=day + 5)).reason == "max_daily_high"
    assert risk.decide(signal(symbol="B1USDT", quality=Quality.LOW)).reason == "max_daily_low"
    assert risk.decide(signal(symbol="B2USDT", time_ms=day + 86_400_000)).accepted


def test_cooldown_after_losses_in_a_row():
    params = RiskParams(cooldown_after_losses=2, cooldown_ms=60_000, max_exposure=100)
    risk = RiskManager(params)
    for i, t in enumerate((T0, T0 + 10)):
        assert risk.decide(signal(symbol=f"L{i}USDT", time_ms=t)).accepted
        risk.on_closed(f"L{i}USDT", -10.0, t + 5)
    assert risk.decide(signal(time_ms=T0 + 100)).reason == "cooldown"
    assert risk.decide(signal(time_ms=T0 + 15 + 60_000)).accepted
    assert risk.equity == pytest.approx(10_000 - 20)


def test_exposure_shrinks_a_signal_and_refuses_when_full():
    risk = RiskManager(RiskParams(equity=1000, risk_per_trade=0.5, max_exposure=1.0))
    first = risk.decide(signal(entry=100, stop=99))  # wants 500 units = 50,000 notional
    assert first.accepted and first.qty == pytest.approx(10.0)  # 1,000 notional fits
    assert risk.decide(signal(symbol="ETHUSDT")).reason == "max_exposure"


def test_invalid_stops_are_refused():
    risk = RiskManager(RiskParams())
    assert risk.decide(signal(stop=101)).reason == "invalid_stop"
    assert risk.decide(signal(side=Side.SHORT, stop=99)).reason == "invalid_stop"


def test_paper_long_two_targets_then_breakeven_stop():
    paper = PaperExecutor(PaperParams(fee_bps=10, slippage_bps=0, breakeven_after_target1=True))
    pos = paper.submit(signal(entry=100, stop=98, targets=(102, 104)), qty=2.0)
    assert paper.on_trade("BTCUSDT", T0, 100.0) is None  # not after the signal: no fill
    paper.on_trade("BTCUSDT", T0 + 1, 100.0)
    assert pos.status == "open" and pos.entry_price == 100.0
    paper.on_trade("BTCUSDT", T0 + 2, 102.5)  # target 1: half at 102, stop to entry
    assert pos.targets_hit == 1 and pos.stop == 100.0 and pos.remaining == 1.0
    paper.on_trade("BTCUSDT", T0 + 3, 99.9)  # back through entry: breakeven exit at the trade
    assert pos.status == "closed" and pos.exit_reason == "breakeven"
    fees = (200 + 102 + 99.9) * 10e-4
    assert pos.pnl == pytest.approx(2.0 + (-0.1) - fees)
    trade = closed_trade(pos)
    assert trade.exit_price == pytest.approx((102 + 99.9) / 2) and trade.fees == pytest.approx(fees)
    assert [f.kind for f in pos.fills] == ["entry", "target1", "breakeven"]


def test_paper_short_stop_with_slippage_against_us():
    paper = PaperExecutor(PaperParams(fee_bps=0, slippage_bps=10))
    pos = paper.submit(signal(side=Side.SHORT, entry=100, stop=101, targets=(97,)), qty=1.0)
    paper.on_trade("BTCUSDT", T0 + 1, 100.0)
    assert pos.entry_price == pytest.approx(100 * (1 - 0.001))  # a sell fills lower
    paper.on_trade("BTCUSDT", T0 + 2, 101.5)  # gapped through the stop
    assert pos.exit_reason == "stop"
    assert pos.pnl == pytest.approx(99.9 - 101.5 * 1.001)


def test_config_file_and_environment(tmp_path: Path):
    path = tmp_path / "s.toml"
    path.write_text(
        '[worker]\nsymbols = ["BTCUSDT"]\nsettle = "500ms"\n[indicators]\nbar = "1s"\n'
        "[risk]\nmax_concurrent = 2\n"
        "[strategies.composite]\nenabled = true\nparams = {confirm_bars = 2}\n"
        "[strategies.composite.symbols.ETHUSDT]\nenabled = false\n"
    )
    config = load_config(path, env={"EXECUTION": "off"})
    assert config.symbols == ("BTCUSDT",) and config.settle_ms == 500
    assert config.indicators.bar_ms == 1000 and config.risk.max_concurrent == 2
    assert config.executor == "off"
    spec = config.strategies[0]
    assert spec.for_symbol("BTCUSDT") == (True, {"confirm_bars": 2})
    assert spec.for_symbol("ETHUSDT")[0] is False
    with pytest.raises(SettingsError, match="EXECUTION"):
        load_config(path, env={"EXECUTION": "live"})
    path.write_text("[risk]\nmax_concurent = 2\n")
    with pytest.raises(SettingsError, match=r"\[risk\] max_concurent"):
        load_config(path, env={})


def test_a_signal_correlated_with_an_open_position_is_refused():
    risk = RiskManager(RiskParams(max_correlation=0.6, correlation_bars=8, max_exposure=100))
    assert risk.correlations is not None
    moves = [1.0, -2.0, 0.5, 3.0, -1.0, 2.0, -0.5, 1.5]
    price = {"BTCUSDT": 100.0, "ETHUSDT": 50.0, "XRPUSDT": 1.0, "SOLUSDT": 20.0}
    for i, move in enumerate([0.0, *moves]):
        price["BTCUSDT"] *= 1 + move / 100
        price["ETHUSDT"] *= 1 + 0.8 * move / 100  # the same moves, smaller
        price["XRPUSDT"] *= 1 - move / 100  # the opposite moves: correlated too (-1)
        price["SOLUSDT"] *= 1 + (0.5 if i % 2 else -0.5) / 100  # its own rhythm
        for symbol, close in price.items():
            risk.correlations.add(symbol, T0 + i * 60_000, close)
    assert risk.correlations.between("BTCUSDT", "ETHUSDT") == pytest.approx(1.0)
    assert risk.correlations.between("BTCUSDT", "XRPUSDT") == pytest.approx(-1.0, abs=1e-3)
    sol = risk.correlations.between("BTCUSDT", "SOLUSDT")
    assert sol is not None and abs(sol) <= 0.6
    assert risk.correlations.between("BTCUSDT", "DOGEUSDT") is None  # no bars: not judged
    assert risk.decide(signal("BTCUSDT")).accepted
    assert risk.decide(signal("ETHUSDT")).reason == "max_correlation"
    assert risk.decide(signal("XRPUSDT")).reason == "max_correlation"
    assert risk.decide(signal("SOLUSDT")).accepted
    assert risk.decide(signal("DOGEUSDT")).accepted
    risk.on_closed("BTCUSDT", 1.0, T0 + 10 * 60_000)
    assert risk.decide(signal("ETHUSDT")).accepted  # BTC closed: nothing correlated is held


def test_a_limit_entry_timed_out_is_replaced_at_the_last_price_then_cancelled():
    params = PaperParams(entry="limit", limit_timeout_ms=10_000, limit_replaces=1,
                         slippage_bps=0.0, fee_bps=0.0)  # fmt: skip
    paper = PaperExecutor(params)
    pos = paper.submit(signal(entry=100.0, stop=98.0, targets=(110.0,)), 1.0)
    assert (pos.limit, pos.deadline_ms) == (100.0, T0 + 10_000)
    assert paper.on_trade("BTCUSDT", T0 + 1_000, 100.5) is None  # above a buy limit: rests
    assert paper.on_trade("BTCUSDT", T0 + 9_000, 101.2) is None
    # the first trade at the deadline: re-placed at the last price (101.2), and 101.5 is above it
    assert paper.on_trade("BTCUSDT", T0 + 10_000, 101.5) is pos
    assert (pos.status, pos.limit, pos.deadline_ms, pos.replaces) == (
        "pending", 101.2, T0 + 20_000, 0)  # fmt: skip
    assert paper.on_trade("BTCUSDT", T0 + 12_000, 101.2) is pos  # traded at the new limit
    assert (pos.status, pos.entry_price, pos.entry_time_ms) == ("open", 101.2, T0 + 12_000)

    pos = paper.submit(signal(symbol="ETHUSDT", entry=100.0, stop=98.0), 1.0)
    paper.on_trade("ETHUSDT", T0 + 5_000, 101.0)
    paper.on_trade("ETHUSDT", T0 + 10_000, 102.0)  # re-placed at 101, the last replacement
    assert paper.on_trade("ETHUSDT", T0 + 20_000, 103.0) is pos  # not filled: cancelled
    assert (pos.status, pos.exit_reason, pos.entry_price) == ("closed", "entry_timeout", None)
    assert "ETHUSDT" not in paper.positions and pos.fills == []
