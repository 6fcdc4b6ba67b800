"""Scripts: loading from JSON/TOML, the active episode, and the ground truth of episodes."""

from __future__ import annotations

from pathlib import Path

import pytest

from sim.book import ASK, BID
from sim.instruments import instrument_for
from sim.market import Market
from sim.script import NORMAL, Episode, Script, load_script, regime_for

ROOT = Path(__file__).resolve().parents[3]


def test_demo_script_loads_and_covers_the_episode_kinds() -> None:
    script = load_script(ROOT / "sim" / "scripts" / "demo.json")
    kinds = {e.kind for e in script.episodes}
    assert {"quiet", "panic_selloff", "absorption", "breakout"} <= kinds
    assert script.repeat


def test_toml_script(tmp_path: Path) -> None:
    path = tmp_path / "s.toml"
    path.write_text(
        '[[episodes]]\nkind = "trend"\nstart = 5\nduration = 10\nsymbol = "ethusdt"\n'
        'direction = "down"\n'
    )
    (episode,) = load_script(path).episodes
    assert episode == Episode("trend", 5.0, 10.0, "ETHUSDT", {"direction": "down"})


def test_active_episode_and_regime() -> None:
    script = Script([Episode("quiet", 0, 10), Episode("panic_selloff", 10, 20, "BTCUSDT")])
    assert script.active("BTCUSDT", 5)[0].kind == "quiet"  # type: ignore[index]
    episode, progress = script.active("BTCUSDT", 15)  # type: ignore[misc]
    assert episode.kind == "panic_selloff" and progress == pytest.approx(0.25)
    assert script.active("ETHUSDT", 15) is None
    assert script.regime("ETHUSDT", 15) == (NORMAL, None)
    assert script.regime("BTCUSDT", 15)[0].liquidations_per_s > 0


def test_truth_lists_each_episode_per_symbol_in_ms() -> None:
    script = Script([Episode("quiet", 0, 10), Episode("breakout", 10, 5, "ETHUSDT")])
    truth = script.truth(["BTCUSDT", "ETHUSDT"], 1_000_000)
    assert truth == [
        {"kind": "quiet", "symbol": "BTCUSDT", "start": 1_000_000, "end": 1_010_000, "params": {}},
        {"kind": "quiet", "symbol": "ETHUSDT", "start": 1_000_000, "end": 1_010_000, "params": {}},
        {
            "kind": "breakout",
            "symbol": "ETHUSDT",
            "start": 1_010_000,
            "end": 1_015_000,
            "params": {},
        },
    ]


def test_repeating_script_repeats_truth_and_regimes() -> None:
    script = Script([Episode("quiet", 0, 10), Episode("trend", 10, 10)], repeat=True)
    assert script.active("X", 25)[0].kind == "quiet"  # type: ignore[index]
    truth = script.truth(["X"], 0, until_ms=35_000)
    assert [(r["kind"], r["start"]) for r in truth] == [
        ("quiet", 0),
        ("trend", 10_000),
        ("quiet", 20_000),
        ("trend", 30_000),
    ]


def test_unknown_kind_is_rejected() -> None:
    with pytest.raises(ValueError, match="unknown episode kind"):
        Episode("moon", 0, 1)


def test_the_preset_scripts_load_and_exhaustion_pulls_bids_under_buying() -> None:
    for name in ("composite", "breakout", "macd"):
        assert load_script(ROOT / "sim" / "scripts" / f"{name}.json").episodes
    regime = regime_for(Episode("exhaustion", 0, 10), 0.5)
    # limit orders rest on the ask, cancels fall on the bid: the price sinks while buys lead
    assert regime.bid_prob < 0.5 < regime.buy_prob and regime.cancel_share > NORMAL.cancel_share


def test_demo_episodes_move_the_price_with_both_sides_of_the_book_and_tight_spreads() -> None:
    script = load_script(ROOT / "sim" / "scripts" / "demo.json")
    step = 50
    for symbol in ("BTCUSDT", "ETHUSDT"):
        market, mids, worst_bps = Market(instrument_for(symbol), 1, 200.0), {}, 0.0
        for ms in range(0, round(script.period * 1000), step):
            market.step(ms, step, *script.regime(symbol, ms / 1000))
            bid, ask = market.book.best_bid(), market.book.best_ask()
            assert bid is not None and ask is not None, (symbol, ms)  # never one-sided
            near = [market.book.top(side, 10)[-1][0] for side in (BID, ASK)]
            assert abs(near[0] - near[1]) * 10_000 <= 6 * bid, (symbol, ms)  # 10 levels each side
            worst_bps = max(worst_bps, (ask - bid) / bid * 10_000)
            mids[ms] = market.mid_price()
        assert worst_bps < 3.0, (symbol, worst_bps)  # liquid perpetuals: a few bps at worst
        if symbol == "BTCUSDT":  # the panic (0:30-1:30) moves it down, the breakout up
            assert mids[89_950] < mids[29_950] * 0.98, (mids[29_950], mids[89_950])
        assert mids[194_950] > mids[164_950] * 1.003, (symbol, mids[164_950], mids[194_950])
