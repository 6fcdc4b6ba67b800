"""One market's (futures' or spot's) books, backfiller and frame handler, wired together."""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from collector.depth import DepthKeeper
from collector.events import EventLog
from collector.handler import FrameHandler
from collector.resume import BACKFILL_WINDOW_HOURS, UNDECLARED, Resume, resume_state
from collector.venues.binance.backfill import Backfiller
from collector.venues.binance.rest import BinanceRest
from db.connect import connect
from db.readers import trade_gap_symbols
from db.writer import CommitWatermark
from markets import USDM
from settings import Settings


@dataclass
class MarketParts:
    keeper: DepthKeeper
    backfiller: Backfiller
    handler: FrameHandler


def market_parts(
    s: Settings,
    rest: BinanceRest,
    symbols: list[str],
    resume: Resume,
    put: Callable[[tuple], None],
    events: EventLog,
    clock: Callable[[], dt.datetime],
    *,
    market: str = USDM,
    snapshot_limit: int = 1000,
    watermark: CommitWatermark | None = None,
    trades_committed: Callable[[float], Awaitable[None]] | None = None,
) -> MarketParts:
    """Books resume from the last stored diff, sequences from the last stored trade id, and
    holes an earlier run left unfilled are backfilled first. ``trades_committed`` waits until
    the agg_trades rows put before a time are committed (a repair is recorded only then)."""
    keeper = DepthKeeper(
        symbols,
        rest,
        put,
        events,
        clock,
        market=market,
        top_levels=s.book_top_levels,
        top_interval=s.book_top_interval,
        snapshot_interval=s.depth_snapshot_interval,
        snapshot_limit=snapshot_limit,
        last_update_ids=resume.last_update_ids,
    )
    backfiller = Backfiller(
        rest,
        put,
        events,
        resume.sequences,
        clock,
        market=market,
        watermark=watermark,
        committed=trades_committed,
    )
    for gap in resume.open_gaps:
        backfiller.resume(gap["symbol"], gap["first_id"], gap["last_id"], gap["ref"])
    for h in resume.undeclared.get("agg_trades", []):
        if h.symbol in resume.sequences:
            backfiller.refetch(h.symbol, h.first_id, h.last_id, UNDECLARED, (h.after, h.before))
    for h in resume.undeclared.get("depth_updates", []):
        if h.symbol in keeper.books:
            keeper.declare(h)
    for gap in resume.open_depth_gaps:
        keeper.adopt(gap["symbol"], gap["ref"])
    handler = FrameHandler(
        symbols=set(symbols),
        put=put,
        events=events,
        books=keeper.books,
        trades=resume.sequences,
        on_depth_gap=keeper.on_invalid,
        on_trade_hole=backfiller.on_hole,
        clock=clock,
        market=market,
        last_marks=resume.last_marks,
    )
    return MarketParts(keeper, backfiller, handler)


async def repair_unrecorded(
    url: str, recorded: list[str], parts: MarketParts, market: str = USDM
) -> None:
    """Holes of symbols no longer recorded are repaired too: a symbol can leave the top:N
    universe between the moment its hole shows and a stop that cuts the repair short, and REST
    serves its trades all the same. Their sequences only guide the backfill (the handler keeps
    no symbol it does not record)."""
    conn = await connect(url)
    try:
        others = sorted(await trade_gap_symbols(conn, market, BACKFILL_WINDOW_HOURS[market]))
    finally:
        await conn.close()
    others = [s for s in others if s not in recorded]
    if not others:
        return
    resume = await resume_state(url, others, market)
    for gap in resume.open_gaps:
        parts.handler.trades.setdefault(gap["symbol"], resume.sequences[gap["symbol"]])
        parts.backfiller.resume(gap["symbol"], gap["first_id"], gap["last_id"], gap["ref"])
