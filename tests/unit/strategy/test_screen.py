"""Universe filters and scoring (strategy/screen.py): the judgement from figures, the gate the
engine asks per signal, and the `[universe]` section's checks."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from settings import SettingsError
from strategy.config import StrategyConfig, UniverseParams, fingerprint, load_config
from strategy.screen import Gate, Measure, judge
from strategy.snapshot import Snapshot

SEED_001 = UniverseParams(min_volume_24h=50e6, min_open_interest=10e6, max_spread_pct=0.02)
LIQUID = Measure(volume_24h=80e6, trades_24h=400_000, change_pct=1.0, open_interest=30e6,
                 spread_pct=0.01, depth=1e6, atr_pct=2.0, status="TRADING")  # fmt: skip


def test_seed_001_minimums_each_exclude_with_their_reason():
    measures = {
        "OK": LIQUID,
        "THIN": replace(LIQUID, volume_24h=49e6),
        "NOOI": replace(LIQUID, open_interest=None),  # not recorded: not known to pass
        "SMALLOI": replace(LIQUID, open_interest=9e6),
        "WIDE": replace(LIQUID, spread_pct=0.03),
        "HALTED": replace(LIQUID, status="SETTLING"),
    }
    assert judge(SEED_001, measures) == {
        "THIN": "low_volume", "NOOI": "low_open_interest", "SMALLOI": "low_open_interest",
        "WIDE": "wide_spread", "HALTED": "not_trading",
    }  # fmt: skip
    assert judge(UniverseParams(), measures) == {"HALTED": "not_trading"}


def test_the_seed_001_score_by_hand():
    # volume 80/100 x 35 + depth 1M/2M x 25 + volatility 2 %/10 % x 20 + 4.63 trades/s / 10 x 20
    expected = 0.8 * 35 + 0.5 * 25 + 0.2 * 20 + 400_000 / 86_400 / 10 * 20
    assert LIQUID.score == pytest.approx(expected)
    capped = Measure(volume_24h=1e12, trades_24h=10**9, depth=1e9, atr_pct=50.0)
    assert capped.score == pytest.approx(100.0)
    assert judge(UniverseParams(min_score=expected + 0.1), {"X": LIQUID}) == {"X": "low_score"}


def test_top_gainers_and_losers_among_those_that_pass():
    changes = {"A": 9.0, "B": 5.0, "C": 0.5, "D": -2.0, "E": -7.0, "F": 12.0}
    measures = {s: Measure(volume_24h=2e6, change_pct=c) for s, c in changes.items()}
    measures["F"] = Measure(volume_24h=10.0, change_pct=12.0)  # the best, but too thin
    measures["G"] = Measure(volume_24h=5e6)  # no trades in 24 h: no change to rank
    p = UniverseParams(min_volume_24h=1e6, gainers=2, losers=1)
    assert judge(p, measures) == {"C": "not_a_mover", "D": "not_a_mover", "F": "low_volume",
                                  "G": "not_a_mover"}  # fmt: skip


def snap(symbol: str, end_ms: int, bid: float, ask: float) -> Snapshot:
    return Snapshot(time_ms=end_ms - 60_000, symbol=symbol, bar_ms=60_000, book_valid=True,
                    best_bid=bid, best_ask=ask)  # fmt: skip


def test_the_gate_judges_each_bar_by_the_check_before_it():
    hour = 3_600_000
    gate = Gate(UniverseParams(max_spread_pct=0.02, emergency_spread_pct=0.05))
    # bar closes in (10:30, 12:00]: the 10:00, 11:00 and 12:00 checks
    assert gate.due(10 * hour + hour // 2, 12 * hour, 60_000) == [10 * hour, 11 * hour, 12 * hour]
    gate.add(10 * hour, ["BTCUSDT", "ETHUSDT"], {"ETHUSDT": "wide_spread"})
    assert gate.due(10 * hour, 11 * hour - 60_000, 60_000) == []
    assert gate.due(10 * hour, 13 * hour, hour) == [11 * hour, 12 * hour, 13 * hour]
    # hourly bars checked every 5 minutes: only the checks at their closes are needed
    five = Gate(UniverseParams(check_ms=300_000, gainers=1))
    assert five.due(10 * hour, 12 * hour, hour) == [11 * hour, 12 * hour]
    assert gate.refusal("BTCUSDT", 10 * hour + 60_000) is None
    assert gate.refusal("ETHUSDT", 11 * hour - 60_000) == "universe_wide_spread"
    assert gate.refusal("BTCUSDT", 11 * hour) == "universe_unchecked"  # 11:00 not added
    assert gate.refusal("SOLUSDT", 10 * hour + 60_000) == "universe_unchecked"
    # emergency: a bar closing at 10:20 with a 0.1 % spread, excluded until 11:00
    gate.on_bar(snap("BTCUSDT", 10 * hour + 20 * 60_000, 100.0, 100.1))
    gate.on_bar(snap("ETHUSDT", 10 * hour + 20 * 60_000, 100.0, 100.01))  # 0.01 %: fine
    assert gate.emergency == {"BTCUSDT": 11 * hour}
    assert gate.refusal("BTCUSDT", 10 * hour + 59 * 60_000) == "universe_emergency_spread"
    gate.add(11 * hour, ["BTCUSDT", "ETHUSDT"], {})
    assert gate.refusal("BTCUSDT", 11 * hour) is None
    assert gate.refusal("ETHUSDT", 11 * hour) is None


def test_the_universe_section(tmp_path: Path):
    path = tmp_path / "u.toml"
    path.write_text('[universe]\ncheck = "5m"\ngainers = 20\nlosers = 20\n')
    config = load_config(path, env={})
    assert (config.universe.check_ms, config.universe.gainers, config.universe.active) == (
        300_000, 20, True)  # fmt: skip
    assert not StrategyConfig().universe.active
    assert fingerprint(config) != fingerprint(StrategyConfig())
    for text, says in [
        ('[universe]\ncheck = "90s"\n', "[universe] check: expected a whole number of minutes"),
        ("[universe]\ngainer = 5\n", "[universe] gainer: unknown setting (allowed: check, "
                                     "min_volume_24h"),
        ("[universe]\nmax_spread_pct = -1\n", "[universe] max_spread_pct: expected >= 0"),
        ('[universe]\nlosers = "all"\n', "[universe] losers: expected an integer"),
    ]:  # fmt: skip
        path.write_text(text)
        with pytest.raises(SettingsError) as caught:
            load_config(path, env={})
        assert str(caught.value).startswith(says), str(caught.value)
