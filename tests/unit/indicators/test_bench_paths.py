"""The benchmark's two trade paths must compute the same thing, or its numbers lie."""

from bench.indicators import BookPipeline, TradePipeline, make_books, make_trades


def state(p: TradePipeline) -> tuple:
    return (
        p.bars_10s.value,
        p.bars_1m.value,
        p.volume_bars.value,
        p.cvd.value,
        p.cvd_5m.value,
        p.vwap.value,
        p.vwap_5m.value,
        p.absorption.value,
        p.bar_div.value,
        p.panic.value,
        p.footprint.value,
        p.ema.value,
        p.rsi.value,
        p.macd.value,
        p.atr.value,
    )


def test_per_trade_and_batched_paths_agree():
    trades = make_trades(60_000)  # 33 one-minute bars: MACD(12, 26, 9) is defined
    single, batched = TradePipeline(), TradePipeline()
    single.run(trades)
    batched.run_batched(trades, batch=777)
    assert state(single) == state(batched)
    assert single.bars_1m.value is not None
    assert single.macd.value is not None


def test_book_pipeline_sees_the_synthetic_wall():
    pipeline = BookPipeline()
    pipeline.run(make_books(80))  # the wall lives from book 50 on
    near = pipeline.walls.value
    assert near is not None
    assert near.bid is not None
    assert near.bid.qty == 40.0
    assert near.bid.first_seen_ms == 5000
    assert pipeline.mlofi.ready
