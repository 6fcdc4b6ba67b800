"""Invariants that must hold for any stream (hypothesis)."""

import statistics
from itertools import accumulate

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from indicators import (
    Absorption,
    AbsorptionConfig,
    Atr,
    BookState,
    CascadeConfig,
    CascadeDetector,
    Cvd,
    DepthImbalance,
    FootprintImbalance,
    FootprintImbalanceConfig,
    HawkesCascade,
    Level,
    LiquidityWalls,
    Macd,
    MultiLevelOfi,
    Ofi,
    PanicConfig,
    PanicIndex,
    RollingCvd,
    RollingVwap,
    Rsi,
    SessionVwap,
    SwingDivergence,
    SwingDivergenceConfig,
    TimeBars,
    Trade,
    VolumeBars,
    WallConfig,
    band_imbalance,
    depth_imbalance,
    normalized_delta,
    parkinson_volatility,
)

SETTINGS = settings(max_examples=60, deadline=None)
TICK = 0.1

qtys = st.integers(1, 5000).map(lambda n: n / 1000)  # 0.001 … 5 in exchange-like steps


@st.composite
def trade_streams(draw, max_size: int = 300) -> list[Trade]:
    n = draw(st.integers(0, max_size))
    gaps = draw(st.lists(st.integers(0, 2500), min_size=n, max_size=n))
    moves = draw(st.lists(st.integers(-3, 3), min_size=n, max_size=n))
    sizes = draw(st.lists(qtys, min_size=n, max_size=n))
    sides = draw(st.lists(st.booleans(), min_size=n, max_size=n))
    t, px, out = 1_700_000_000_000, 10_000, []
    for gap, move, q, m in zip(gaps, moves, sizes, sides, strict=True):
        t, px = t + gap, max(1, px + move)
        out.append(Trade(t, px * TICK, q, m))
    return out


@st.composite
def books(draw) -> BookState:
    best_bid = draw(st.integers(1000, 2000))
    spread = draw(st.integers(1, 3))
    bid_q = draw(st.lists(st.floats(0.001, 1e4), max_size=20))
    ask_q = draw(st.lists(st.floats(0.001, 1e4), max_size=20))
    bids = tuple(Level(best_bid - i, q) for i, q in enumerate(bid_q))
    asks = tuple(Level(best_bid + spread + i, q) for i, q in enumerate(ask_q))
    return BookState(draw(st.integers(0, 10**6)), bids, asks, TICK, draw(st.booleans()))


book_streams = st.lists(books(), max_size=40).map(
    lambda bs: [b._replace(time_ms=i * 100) for i, b in enumerate(bs)]
)


def closed_bars(stream: list[Trade], interval_ms: int = 1000) -> list:
    bars = TimeBars(interval_ms, TICK, row_ticks=2)
    out = bars.update_many(stream)
    return out + (bars.advance(stream[-1].time_ms + interval_ms) if stream else [])


@SETTINGS
@given(trade_streams())
def test_bar_delta_is_buy_minus_sell_and_footprint_adds_up(stream):
    for bar in closed_bars(stream):
        assert bar.delta == bar.buy_volume - bar.sell_volume
        assert bar.volume == pytest.approx(bar.buy_volume + bar.sell_volume)
        rows = bar.footprint.rows.values()
        assert sum(b for b, _ in rows) == pytest.approx(bar.buy_volume)
        assert sum(s for _, s in rows) == pytest.approx(bar.sell_volume)
        nd = bar.normalized_delta
        assert (nd is None) == (bar.volume == 0)
        assert nd is None or -1.0 <= nd <= 1.0
        if bar.trade_count:
            assert bar.low <= bar.vwap * (1 + 1e-12) and bar.vwap <= bar.high * (1 + 1e-12)
    assert sum(b.trade_count for b in closed_bars(stream)) == len(stream)


@SETTINGS
@given(st.lists(st.floats(-1e6, 1e6), max_size=200))
def test_cvd_is_the_running_sum(deltas):
    cvd = Cvd(anchor="none")
    seen = []
    for i, d in enumerate(deltas):
        cvd.update(i, d)
        seen.append(cvd.value)
    assert seen == list(accumulate(deltas))


@SETTINGS
@given(trade_streams())
def test_cvd_per_trade_equals_cvd_per_bar_at_bar_boundaries(stream):
    per_trade, per_bar = Cvd(anchor="none"), Cvd(anchor="none")
    bars = TimeBars(1000, TICK)
    for trade in stream:
        for bar in bars.update(trade):
            per_bar.update(bar.end_ms, bar.delta)
            assert per_bar.value == pytest.approx(per_trade.value, abs=1e-6)
        per_trade.update(trade.time_ms, -trade.qty if trade.is_buyer_maker else trade.qty)


@SETTINGS
@given(books(), st.integers(1, 25), st.floats(0.1, 500))
def test_book_imbalances_stay_within_minus_one_and_one(book, levels, band):
    weights = [0.5**i for i in range(levels)]
    for value in (
        depth_imbalance(book, levels),
        depth_imbalance(book, levels, weights),
        band_imbalance(book, band),
    ):
        assert value is None or -1.0 <= value <= 1.0
    if not book.bids or not book.asks:
        assert depth_imbalance(book, levels) is None


@SETTINGS
@given(qtys, qtys)
def test_normalized_delta_within_bounds(buy, sell):
    assert -1.0 <= normalized_delta(buy, sell) <= 1.0


@SETTINGS
@given(trade_streams(), st.lists(st.integers(1, 50), min_size=1, max_size=10))
def test_bars_in_one_piece_or_in_chunks_are_identical(stream, cuts):
    whole_t, whole_v = TimeBars(1000, TICK, 3), VolumeBars(7.5, TICK, 3)
    expect = (whole_t.update_many(stream), whole_v.update_many(stream))
    chunked_t, chunked_v = TimeBars(1000, TICK, 3), VolumeBars(7.5, TICK, 3)
    got_t, got_v, i, k = [], [], 0, 0
    while i < len(stream):
        chunk = stream[i : i + cuts[k % len(cuts)]]
        got_t += chunked_t.update_many(chunk)
        got_v += chunked_v.update_many(chunk)
        i, k = i + len(chunk), k + 1
    assert (got_t, got_v) == expect
    assert (chunked_t.partial(), chunked_v.partial()) == (whole_t.partial(), whole_v.partial())


@SETTINGS
@given(trade_streams())
def test_clock_ticks_between_trades_do_not_change_the_bars(stream):
    plain = closed_bars(stream)
    ticking = TimeBars(1000, TICK, row_ticks=2)
    out = []
    for trade in stream:
        out += ticking.advance(trade.time_ms)  # a timer firing just before each trade
        out += ticking.update(trade)
    if stream:
        out += ticking.advance(stream[-1].time_ms + 1000)
    assert out == plain


def trade_pipeline(stream: list[Trade]) -> list:
    """Every trade- and bar-fed indicator; returns all values it produced."""
    cvd, rcvd = Cvd(), RollingCvd(5000)
    svwap, rvwap = SessionVwap(), RollingVwap(3000)
    swing = SwingDivergence(SwingDivergenceConfig(left=2, right=2, sigma_mult=0.1))
    absorb = Absorption(AbsorptionConfig(ref_windows=3, lambda_windows=4))
    panic = PanicIndex(PanicConfig(baseline_bars=4, cdf_min_samples=2, cdf_window=10))
    rsi, macd, atr = Rsi(3), Macd(2, 4, 2), Atr(3)
    fp = FootprintImbalance(FootprintImbalanceConfig(min_volume=0.5))
    bars = TimeBars(1000, TICK)
    out: list = []
    for trade in stream:
        t, p, q, m = trade
        for bar in bars.update(trade):
            swing.update(bar.high, bar.low, bar.delta, cvd.value or 0.0)
            absorb.update(bar)
            rv = parkinson_volatility(bar.high, bar.low)
            panic.update(rv or 0.0, bar.volume, bar.close - bar.open, bar.volume / 3)
            rsi.update(bar.close)
            macd.update(bar.close)
            atr.update(bar.high, bar.low, bar.close)
            fp.update(bar.footprint)
            out += [swing.events, absorb.value, absorb.impact, panic.value, panic.score]
            out += [rsi.value, macd.value, macd.signal, atr.value, fp.value]
        cvd.update(t, -q if m else q)
        rcvd.update(t, -q if m else q)
        svwap.update(t, p, q)
        rvwap.update(t, p, q)
        out += [cvd.value, rcvd.value, svwap.value, rvwap.value]
    return out


@settings(max_examples=25, deadline=None)
@given(trade_streams(max_size=400))
def test_trade_pipeline_is_deterministic(stream):
    assert trade_pipeline(stream) == trade_pipeline(stream)


def reset_replays_identically(make, feed, stream):
    ind = make()
    first = [feed(ind, x) for x in stream]
    ind.reset()
    assert [feed(ind, x) for x in stream] == first


@SETTINGS
@given(trade_streams())
def test_reset_replays_identically_trade_side(stream):
    reset_replays_identically(lambda: TimeBars(500, TICK), TimeBars.update, stream)
    reset_replays_identically(lambda: VolumeBars(3.0, TICK), VolumeBars.update, stream)
    signed = [(t.time_ms, -t.qty if t.is_buyer_maker else t.qty) for t in stream]

    def cvd_feed(ind, x):
        ind.update(*x)
        return ind.value

    reset_replays_identically(Cvd, cvd_feed, signed)
    reset_replays_identically(lambda: RollingCvd(2000), cvd_feed, signed)
    bars = closed_bars(stream)
    reset_replays_identically(
        lambda: Absorption(AbsorptionConfig(3, 3)), lambda a, b: (a.update(b), a.impact), bars
    )
    liq = [(b.end_ms, b.sell_volume, b.buy_volume) for b in bars]
    cfg = CascadeConfig(min_notional=0.5, ewma_half_life_s=2.0, price_sigma_mult=None)
    reset_replays_identically(
        lambda: CascadeDetector(cfg), lambda c, x: (c.update(*x), c.exhausted), liq
    )
    reset_replays_identically(HawkesCascade, lambda h, x: h.update(x[0], x[1]), liq)


@SETTINGS
@given(book_streams)
def test_reset_replays_identically_book_side(stream):
    reset_replays_identically(
        lambda: Ofi(window_ms=500), lambda o, b: (o.update(b), o.value), stream
    )
    reset_replays_identically(lambda: MultiLevelOfi(5), lambda o, b: (o.update(b), o.value), stream)
    reset_replays_identically(lambda: DepthImbalance(10), DepthImbalance.update, stream)
    walls_cfg = WallConfig(k_mult=2.0, min_age_ms=200)
    reset_replays_identically(
        lambda: LiquidityWalls(walls_cfg), lambda w, b: (w.update(b), w.events), stream
    )


@SETTINGS
@given(book_streams)
def test_ofi_total_is_the_sum_of_its_steps(stream):
    ofi = Ofi()
    steps = [ofi.update(b) for b in stream]
    defined = [s for s in steps if s is not None]
    assert (ofi.value is None) == (not defined)
    if defined:
        assert ofi.value == pytest.approx(sum(defined))
    for book, step in zip(stream, steps, strict=True):
        if book.resynced:
            assert step is None


@SETTINGS
@given(trade_streams(), st.integers(0, 2))
def test_per_trade_and_batched_bars_are_identical(stream, late_every):
    """`update` and `update_many` are two written-out copies of one accumulation (and
    repeated prices take a shortcut in both): any stream must give the same bars."""
    if late_every:  # late trades: back in time, still added to the open bar
        stream = [tr._replace(time_ms=tr.time_ms - 3000) if i % 7 == late_every else tr
                  for i, tr in enumerate(stream)]  # fmt: skip
    for make in (lambda: TimeBars(1000, TICK, 2), lambda: VolumeBars(2.5, TICK, 3)):
        one, many = make(), make()
        singles = [bar for trade in stream for bar in one.update(trade)]
        assert singles == many.update_many(stream)
        assert one.partial() == many.partial()


@SETTINGS
@given(book_streams)
def test_multi_level_ofi_sums_are_the_running_sums_of_its_steps(stream):
    """Per-level sums are added in C once every level had a step, element by element
    before: both must equal accumulating `last` level by level."""
    mlofi, sums = MultiLevelOfi(20), [None] * 20
    for book in stream:
        for m, e in enumerate(mlofi.update(book)):
            if e is not None:
                sums[m] = e if sums[m] is None else sums[m] + e
        assert mlofi.value == tuple(sums)


@SETTINGS
@given(books(), st.sampled_from([1.5, 2.0, 5.0]))
def test_wall_candidates_are_the_levels_at_k_times_the_side_median(book, k):
    """One candidate on a side is found by a shortcut, several by a scan: both must
    track exactly the in-band levels with qty ≥ k × median of the side's in-band sizes."""
    walls = LiquidityWalls(WallConfig(band_bps=50.0, k_mult=k, min_age_ms=0))
    walls.update(book)
    expect = []
    if book.bids and book.asks and book.bids[0][0] < book.asks[0][0]:
        mid = (book.bids[0][0] + book.asks[0][0]) * 0.5
        lo, hi = mid * (1 - 50.0 * 1e-4), mid * (1 + 50.0 * 1e-4)
        for side, levels in ((1, book.bids), (-1, book.asks)):
            inside = [(t, q) for t, q in levels if lo <= t <= hi]
            if inside:
                threshold = k * statistics.median(q for _, q in inside)
                expect += [(side, t, q) for t, q in inside if q >= threshold]
    assert sorted((w.side, w.ticks, w.qty) for w in walls.walls) == sorted(expect)
