"""REST weight accounting: budget per window, 429 with Retry-After, then a 418 ban."""

from __future__ import annotations

from sim.ratelimit import WeightLimiter


class FakeTime:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_weight_accumulates_and_resets_each_window() -> None:
    clock = FakeTime()
    limiter = WeightLimiter(limit=50, window_s=60, clock=clock)
    assert limiter.charge("ip", 20).used == 20
    assert limiter.charge("ip", 20).used == 40
    assert limiter.charge("other", 5).used == 5
    clock.now += 60
    assert limiter.charge("ip", 1).used == 1


def test_over_budget_is_429_with_seconds_left_in_the_window() -> None:
    clock = FakeTime()
    clock.now = 1020.5  # window [1020, 1080)
    limiter = WeightLimiter(limit=40, window_s=60, clock=clock)
    assert limiter.charge("ip", 40).status == 200
    verdict = limiter.charge("ip", 1)
    assert verdict.status == 429
    assert verdict.retry_after == 60  # ceil(1080 - 1020.5)


def test_continuing_after_429s_gets_banned_with_418_until_the_ban_ends() -> None:
    clock = FakeTime()
    limiter = WeightLimiter(limit=10, window_s=60, ban_after=2, ban_s=300, clock=clock)
    limiter.charge("ip", 10)
    assert [limiter.charge("ip", 1).status for _ in range(3)] == [429, 429, 418]
    clock.now += 100  # a new window, but still banned
    verdict = limiter.charge("ip", 1)
    assert verdict.status == 418 and verdict.retry_after == 200
    clock.now += 201
    assert limiter.charge("ip", 1).status == 200
