"""Health actions on a recorded simulator session: a sudden price jump (the market swept 1.5 %
in one go) pauses the symbol's signals — rejected as "anomaly: price_jump" — and they resume
once the calm period has passed. Judged by a backtest of the session: the engine decides the
same way live (tests/integration/strategy/test_worker.py keeps the two equal)."""

from __future__ import annotations

import asyncio

from sim.server import Simulator
from strategy.anomaly import AnomalyParams
from strategy.backtest import run_backtest
from strategy.config import IndicatorParams, StrategyConfig, StrategySpec
from tests.integration.recorder.conftest import wait_until

BAR = 1000
CALM = 8 * BAR
QUIET = {"episodes": [{"kind": "quiet", "start": 0, "duration": 100}]}
# scored_imbalance made to fire on nearly every bar, so there are signals to pause
EAGER = {"imbalance_min": 0.0, "min_large_trades": 0, "volume_intensity_min": 0.0,
         "min_score": 0.0, "window_bars": 1, "baseline_bars": 5, "cooldown_bars": 1}  # fmt: skip


def config() -> StrategyConfig:
    return StrategyConfig(
        symbols=("BTCUSDT",),
        executor="off",
        indicators=IndicatorParams(bar_ms=BAR),
        anomaly=AnomalyParams(enabled=True, window=60, min_samples=40, calm_ms=CALM),
        strategies=(StrategySpec("scored_imbalance", params=EAGER),),
        warmup_ms=0,
    )


async def test_a_price_spike_pauses_signals_then_they_resume(record_session, strategy_db):
    spikes: list[int] = []

    async def spike(sim: Simulator, recorder) -> None:
        async def later() -> None:
            start = sim.now
            await wait_until(lambda: sim.now - start >= 60_000, 30, "a minute of quiet market")
            market = sim.feed.feeds["BTCUSDT"].market  # type: ignore[union-attr]
            price = market.instrument.price_float(market.last_tick) * 1.015
            spikes.append(sim.now)
            sim.trade_to("BTCUSDT", f"{price:.1f}")

        asyncio.get_running_loop().create_task(later())

    await record_session(QUIET, 100, speed=10, on_running=spike)
    assert spikes, "the spike was never traded"
    result = await run_backtest(strategy_db, config())
    decisions = [(s.time_ms, d.reason) for s, d in result.signals]
    jump = spikes[0]
    # every signal from the bar after the jump's until the calm period has passed is paused
    # (a quiet market has its own 3σ moments now and then: the pause may have begun earlier)
    during = [r for t, r in decisions if jump + BAR < t <= jump + CALM]
    assert during and all(r.startswith("anomaly: ") for r in during), decisions
    assert "anomaly: price_jump" in during
    after = [r for t, r in decisions if t > jump + CALM]
    assert after and not all(r.startswith("anomaly") for r in after), after  # resumed
    before = [r for t, r in decisions if t <= jump]
    assert before and not all(r.startswith("anomaly") for r in before), before
