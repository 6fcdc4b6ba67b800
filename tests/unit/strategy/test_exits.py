"""Exit rules (strategy/exits.py): parsed from [strategies.NAME.exits], applied by the paper
executor on trades and by the engine at bar closes."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from settings import SettingsError
from strategy.binance.exits import step
from strategy.config import PaperParams, StrategyConfig, fingerprint, load_config
from strategy.exits import ExitRules, ExitWatch, stop_kind
from strategy.paper import PaperExecutor
from strategy.signals import Quality, Side
from strategy.snapshot import Snapshot
from tests.unit.strategy.test_risk_and_paper import T0, signal


def test_exits_table_is_parsed_and_bad_keys_are_named(tmp_path: Path):
    path = tmp_path / "s.toml"
    path.write_text(
        "[strategies.wall.exits]\nbreakeven_pct = 0.5\ntrail_pct = 0.3\n"
        'max_hold = { HIGH = "45m", LOW = "3h" }\n'
    )
    (spec,) = load_config(path, env={}).strategies
    assert spec.exits.breakeven_pct == 0.5 and spec.exits.trail_pct == 0.3
    assert spec.exits.hold_ms("HIGH", 7) == 2_700_000 and spec.exits.hold_ms("LOW", 7) == 10_800_000
    assert spec.exits.hold_ms("MEDIUM", 7) == 7  # not given: [paper] max_hold
    for text, says in [
        ("breakeven = 0.5", "exits.breakeven: unknown key (allowed: breakeven_pct, trail_pct"),
        ("trail_pct = -1", "exits.trail_pct: expected a percentage >= 0"),
        ('max_hold = { URGENT = "1m" }', "'URGENT' is not a quality"),
        ('max_hold = "soon"', "is not a duration"),
    ]:
        path.write_text(f"[strategies.wall.exits]\n{text}\n")
        with pytest.raises(SettingsError, match=says.replace("(", r"\(")):
            load_config(path, env={})


def opened(rules: ExitRules, side: Side = Side.LONG) -> PaperExecutor:
    paper = PaperExecutor(PaperParams(fee_bps=0.0, slippage_bps=0.0))
    stop, target = (98.0, 110.0) if side is Side.LONG else (102.0, 90.0)
    paper.submit(signal(side=side, stop=stop, targets=(target,)), 1.0, rules)
    paper.on_trade("BTCUSDT", T0 + 1, 100.0)  # entry at 100
    return paper


def test_breakeven_at_a_profit_threshold_moves_the_stop_to_the_entry():
    paper = opened(ExitRules(breakeven_pct=0.5))
    assert paper.on_trade("BTCUSDT", T0 + 2, 100.4) is None  # +0.4 %: not yet
    assert paper.positions["BTCUSDT"].stop == 98.0
    assert paper.on_trade("BTCUSDT", T0 + 3, 100.5) is not None  # +0.5 %: moved
    assert paper.positions["BTCUSDT"].stop == 100.0
    pos = paper.on_trade("BTCUSDT", T0 + 4, 100.0)
    assert pos is not None and pos.status == "closed" and pos.exit_reason == "breakeven"


def test_trailing_stop_follows_the_best_price_and_never_loosens():
    paper = opened(ExitRules(trail_pct=1.0, trail_after_pct=2.0), Side.SHORT)
    paper.on_trade("BTCUSDT", T0 + 2, 99.0)  # +1 %: trailing not active yet
    assert paper.positions["BTCUSDT"].stop == 102.0
    paper.on_trade("BTCUSDT", T0 + 3, 97.0)  # +3 %: stop at 97 × 1.01
    assert paper.positions["BTCUSDT"].stop == pytest.approx(97.97)
    paper.on_trade("BTCUSDT", T0 + 4, 97.5)  # a worse price does not loosen it
    assert paper.positions["BTCUSDT"].stop == pytest.approx(97.97)
    pos = paper.on_trade("BTCUSDT", T0 + 5, 98.0)
    assert pos is not None and pos.exit_reason == "trailing" and pos.pnl == pytest.approx(2.0)


def test_without_rules_the_stop_stays_where_the_signal_put_it():
    paper = opened(ExitRules())
    for i, price in enumerate((101.0, 105.0, 109.0)):
        assert paper.on_trade("BTCUSDT", T0 + 2 + i, price) is None
    assert paper.positions["BTCUSDT"].stop == 98.0


def test_hold_time_per_quality():
    rules = ExitRules(max_hold_ms=(("HIGH", 60_000),))
    assert rules.hold_ms(Quality.HIGH.value, 0) == 60_000
    assert rules.hold_ms(Quality.LOW.value, 14_400_000) == 14_400_000


def test_exit_rules_and_the_wall_baseline_shape_the_fingerprint():
    base = StrategyConfig()
    wall = replace(base.strategies[2], exits=ExitRules(breakeven_pct=0.5))
    changed = replace(base, strategies=(*base.strategies[:2], wall))
    mean = replace(base, indicators=replace(base.indicators, wall_baseline="mean"))
    assert len({fingerprint(base), fingerprint(changed), fingerprint(mean)}) == 3


# ---- the same rules on a live exchange position (ExitWatch, strategy/binance/exits.py) ------

BAR = 1000
# (time offset ms, price): up 3 % in three bars, back down; a SHORT sees the mirror image
PATH = [(1, 100.0), (400, 100.6), (1300, 101.2), (1900, 102.0), (2500, 103.0), (3100, 102.4),
        (3600, 101.9), (4200, 101.0), (5100, 100.0)]  # fmt: skip


def _path(side: Side) -> list[tuple[int, float]]:
    return [(T0 + t, p if side is Side.LONG else 200.0 - p) for t, p in PATH]


@pytest.mark.parametrize("side", [Side.LONG, Side.SHORT])
@pytest.mark.parametrize(
    "rules",
    [ExitRules(breakeven_pct=0.5), ExitRules(trail_pct=1.0, trail_after_pct=1.5),
     ExitRules(breakeven_pct=0.5, trail_pct=0.5, trail_after_pct=2.0)],
)  # fmt: skip
def test_a_watched_position_moves_its_stop_bar_by_bar_as_paper_does_trade_by_trade(
    rules: ExitRules, side: Side
):
    """At each bar close the watch's stop is the paper position's stop after that bar's trades;
    the paper position's exit comes on a trade at or through that stop."""
    trades = _path(side)
    stop = 98.0 if side is Side.LONG else 102.0
    paper = PaperExecutor(PaperParams(fee_bps=0.0, slippage_bps=0.0))
    sig = signal(side=side, stop=stop, targets=(150.0 if side is Side.LONG else 50.0,))
    paper.submit(sig, 1.0, rules)
    entry_time, entry = trades[0]
    watch = ExitWatch(sig, entry, entry_time, stop, rules, hold_ms=0)
    paper_stops, paper_exit = {}, None
    for time_ms, price in trades:
        pos = paper.on_trade("BTCUSDT", time_ms, price)
        if pos is not None and pos.status == "closed":
            paper_exit = (pos.exit_reason, time_ms)
            break
        paper_stops[time_ms - time_ms % BAR + BAR] = paper.positions["BTCUSDT"].stop
    moves = step(watch, trades, range(T0 + BAR, T0 + 6 * BAR, BAR), {}, None)
    assert moves and all(m.kind == "move" for m in moves)
    watched = {m.time_ms: m.stop for m in moves}
    for end, stop_then in watched.items():
        if end in paper_stops:
            assert paper_stops[end] == pytest.approx(stop_then)
    assert paper_exit is not None  # the path comes back through the moved stop
    kind, exit_ms = paper_exit
    last_before = watched[max(t for t in watched if t <= exit_ms)]  # the bar's stop order
    assert stop_kind(rules, side.sign, entry, last_before) == kind
    assert kind in ("breakeven", "trailing")


def test_a_watched_position_times_out_at_the_bar_close_paper_does():
    rules = ExitRules(max_hold_ms=(("HIGH", 2500),))
    sig = signal()
    watch = ExitWatch(sig, 100.0, T0 + 1, 98.0, rules, rules.hold_ms("HIGH", 0))
    actions = step(watch, _path(Side.LONG), range(T0 + BAR, T0 + 6 * BAR, BAR), {}, None)
    # paper: the first bar close at or after entry + hold (the engine's _time_exits)
    assert [(a.kind, a.time_ms) for a in actions] == [("time", T0 + 3 * BAR)]
    assert step(watch, _path(Side.LONG), [T0 + 7 * BAR], {}, None) == []  # once only


def test_a_watched_position_asks_its_strategy_at_each_bar_close():
    sig = signal()
    watch = ExitWatch(sig, 100.0, T0 + 1, 98.0, ExitRules(), 0)
    snaps = {T0 + n * BAR: Snapshot(T0 + (n - 1) * BAR, "BTCUSDT", BAR, close=100.0 - n)
             for n in (1, 2, 3)}  # fmt: skip

    def eroded(snap: Snapshot, s, entry) -> str | None:
        return "density_erosion" if snap.close is not None and snap.close < 98.5 else None

    actions = step(watch, [], range(T0 + BAR, T0 + 4 * BAR, BAR), snaps, eroded)
    assert [(a.kind, a.time_ms) for a in actions] == [("density_erosion", T0 + 2 * BAR)]
