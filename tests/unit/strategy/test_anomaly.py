"""Health actions (strategy/anomaly.py): a symbol's signals pause on a 3σ data anomaly of one of
its metrics against its own recent history, and resume after a calm period."""

from __future__ import annotations

import logging
import statistics
from pathlib import Path

import pytest

from strategy.anomaly import AnomalyParams, AnomalyWatch, Rolling, bar_metrics
from strategy.config import load_config, preset_path
from strategy.snapshot import Snapshot

BAR = 1000
T0 = 1_790_000_000_000
TICK = 0.1
# closes moving 1..3 ticks a bar: price_jump's history is 1, 2, 3 ticks (mean 2, sd 0.816)
STEPS = [1.0, -2.0, 3.0] * 20


def bars(steps: list[float], start: float = 1000.0, trades: int = 10) -> list[Snapshot]:
    out, close = [], start
    for i, ticks in enumerate(steps):
        close += ticks * TICK
        out.append(Snapshot(T0 + i * BAR, "BTCUSDT", BAR, close=close, trades=trades + i % 3,
                            tick_size=TICK))  # fmt: skip
    return out


def feed(watch: AnomalyWatch, snaps: list[Snapshot]) -> list[str | None]:
    return [watch.on_bar(s, 50 + i % 2 * 10) for i, s in enumerate(snaps)]


def test_rolling_mean_and_deviation_over_the_last_values():
    values = [3.0, 7.0, 1.0, 9.0, 4.0, 4.0, 12.0]
    rolling = Rolling(4)
    for v in values:
        rolling.add(v)
    last = values[-4:]
    mean, sd = statistics.fmean(last), statistics.pstdev(last)
    assert rolling.sigmas(mean + 2 * sd, 0.0) == pytest.approx(2.0)
    assert rolling.sigmas(mean - 3 * sd, 0.0) == pytest.approx(3.0)
    flat = Rolling(3)
    for _ in range(3):
        flat.add(5.0)
    # a history that never varied: the deviation is measured in the metric's resolution
    assert flat.sigmas(6.0, 1.0) == 1.0 and flat.sigmas(9.0, 1.0) == 4.0


def test_bar_metrics_by_hand():
    snap = Snapshot(T0, "BTCUSDT", BAR, close=101.0, trades=7, book_valid=True,
                    best_bid=100.99, best_ask=101.01, tick_size=0.01)  # fmt: skip
    got = bar_metrics(snap, 100.0, 250)
    assert got["trade_rate"] == 7.0 and got["data_age"] == 250.0
    assert got["price_jump"] == pytest.approx(100.0)  # 1.00 = 100 ticks
    assert got["spread"] == pytest.approx(2.0)
    assert set(bar_metrics(Snapshot(T0, "BTCUSDT", BAR), None, None)) == {"trade_rate"}


def test_a_price_spike_pauses_signals_logs_once_and_resumes_after_the_calm(caplog):
    caplog.set_level(logging.INFO, logger="strategy.anomaly")
    watch = AnomalyWatch(AnomalyParams(enabled=True, window=60, min_samples=30, calm_ms=5 * BAR))
    quiet = bars(STEPS[:40])
    assert set(feed(watch, quiet)) == {None}
    after = quiet[-1].close
    assert after is not None
    spike = bars([40.0, 45.0, 1.0, -2.0, 3.0, 1.0, -2.0, 3.0, 1.0, -2.0], start=after)
    spike = [Snapshot(T0 + (40 + i) * BAR, "BTCUSDT", BAR, close=s.close, trades=s.trades,
                      tick_size=TICK) for i, s in enumerate(spike)]  # fmt: skip
    started, refused = [], []
    for snap in spike:  # as the engine asks: each bar judged, then its signals
        started.append(watch.on_bar(snap, 50))
        refused.append(watch.refusal("BTCUSDT", snap.end_ms))
    # 40 ticks against 2 +- 0.8 (floor 1 tick): far beyond 3σ; the second spike bar extends
    # the same episode, which ends 5 bars (calm_ms) after it
    assert started == ["price_jump"] + [None] * 9
    assert refused == ["anomaly: price_jump"] * 6 + [None] * 4
    first_end = spike[0].end_ms
    assert watch.refusal("ETHUSDT", first_end) is None  # per symbol
    paused = [r for r in caplog.records if "new signals paused" in r.getMessage()]
    resumed = [r for r in caplog.records if "signals resume" in r.getMessage()]
    assert len(paused) == 1 and "price_jump" in paused[0].getMessage() and len(resumed) == 1


def test_nothing_fires_before_min_samples_or_for_a_metric_left_out():
    early = AnomalyWatch(AnomalyParams(enabled=True, window=60, min_samples=30))
    assert set(feed(early, bars([*STEPS[:20], 80.0]))) == {None}  # 20 values: too few
    off = AnomalyWatch(AnomalyParams(enabled=True, window=60, min_samples=30, price_jump=False))
    assert set(feed(off, bars([*STEPS[:40], 80.0]))) == {None}


def test_a_data_age_jump_pauses_too():
    watch = AnomalyWatch(AnomalyParams(enabled=True, window=60, min_samples=30))
    snaps = bars(STEPS[:41])
    assert set(feed(watch, snaps[:40])) == {None}
    assert watch.on_bar(snaps[40], 5_000) == "data_age"  # streams silent 5 s, usually 50-60 ms


def test_one_tick_more_in_a_market_that_rarely_moves_is_no_anomaly():
    watch = AnomalyWatch(AnomalyParams(enabled=True, window=60, min_samples=30))
    still = [0.0] * 39 + [1.0]  # mostly unchanged closes: a standard deviation near 0
    assert set(feed(watch, bars([*still, 2.0]))) == {None}
    assert watch.on_bar(bars([*still, 2.0, 10.0])[-1], 50) == "price_jump"


def test_the_section_is_configured_and_on_in_the_signal_bot_preset(tmp_path: Path):
    path = tmp_path / "s.toml"
    path.write_text('[anomaly]\nenabled = true\nsigma = 4\ncalm = "2m"\nspread = false\n')
    params = load_config(path, env={}).anomaly
    assert params.enabled and params.sigma == 4 and params.calm_ms == 120_000
    assert params.watched == ("trade_rate", "price_jump", "data_age")
    assert not load_config(None, env={}).anomaly.enabled  # off by default
    bot = load_config(preset_path("signal_bot"), env={}).anomaly
    assert bot.enabled and bot.sigma == 3.0
