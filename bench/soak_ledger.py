"""The soak's accounting: what the simulator emitted (its ground truth) against what the tables
hold and what ``data_gaps`` declares. The definitions are in ``bench/soak.py``'s docstring."""

from __future__ import annotations

import bisect
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import asyncpg

from sim.truth import Truth

DEPTH_SPEED_MS = 100  # the recorder's DEPTH_SPEED (and SPOT_DEPTH_SPEED) in the soak
OI_SLOT_MS = 15_000  # one open-interest "event": a stored sample in every 15 s slot

Windows = dict[tuple[str, str], list[tuple[int, int]]]  # (market, symbol) -> [(from, to)] ms


@dataclass(frozen=True)
class Event:
    """One emitted event: ``key`` is what identifies its row (an id, or a time in ms)."""

    market: str
    symbol: str
    key: int
    time_ms: int
    id: int | None  # the sequence id, for id-declared holes (trades, depth)


@dataclass
class StreamCount:
    stream: str
    events: int = 0
    stored: int = 0
    lost: int = 0
    undeclared: int = 0
    duplicated: int = 0
    lost_by_symbol: Counter[str] = field(default_factory=Counter)
    undeclared_sample: list[tuple[str, str, int]] = field(default_factory=list)


@dataclass
class Gaps:
    """Declared ranges per (market, symbol, stream): ids and times, merged and sorted."""

    ids: dict[tuple[str, str, str], list[tuple[int, int]]]
    times: dict[tuple[str, str, str], list[tuple[int, int]]]

    def covers(self, stream: str, e: Event) -> bool:
        for symbol in (e.symbol, ""):  # "": a gap of the whole market (no symbol)
            k = (e.market, symbol, stream)
            if e.id is not None and _inside(self.ids.get(k, []), e.id):
                return True
            if _inside(self.times.get(k, []), e.time_ms):
                return True
        return False


def _inside(ranges: list[tuple[int, int]], x: int) -> bool:
    i = bisect.bisect_right(ranges, (x, 2**63)) - 1
    return i >= 0 and ranges[i][0] <= x <= ranges[i][1]


def _merged(ranges: list[tuple[int, int]]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for a, b in sorted(ranges):
        if out and a <= out[-1][1] + 1:
            out[-1] = (out[-1][0], max(out[-1][1], b))
        else:
            out.append((a, b))
    return out


async def load_gaps(db: asyncpg.Connection) -> Gaps:
    ids: dict[tuple[str, str, str], list[tuple[int, int]]] = defaultdict(list)
    times: dict[tuple[str, str, str], list[tuple[int, int]]] = defaultdict(list)
    rows = await db.fetch(
        "SELECT coalesce(market, 'usdm') AS market, coalesce(symbol, '') AS symbol, stream,"
        " first_id, last_id, (extract(epoch FROM start_time) * 1000)::bigint AS t0,"
        " (extract(epoch FROM end_time) * 1000)::bigint AS t1 FROM data_gaps"
    )
    for r in rows:
        k = (r["market"], r["symbol"], r["stream"])
        if r["first_id"] is not None:
            ids[k].append((r["first_id"], r["last_id"] or r["first_id"]))
        if r["t0"] is not None:
            times[k].append((r["t0"], r["t1"] if r["t1"] is not None else r["t0"]))
    return Gaps({k: _merged(v) for k, v in ids.items()}, {k: _merged(v) for k, v in times.items()})


def _within(windows: Windows, market: str, symbol: str, t: int) -> bool:
    return any(a <= t <= b for a, b in windows.get((market, symbol), []))


def emitted(truths: dict[str, Truth], windows: Windows) -> dict[str, list[Event]]:
    """Per stream, every event the simulator emitted inside a counted window."""
    out: dict[str, list[Event]] = defaultdict(list)
    for market, truth in truths.items():
        for symbol, trades in truth.agg_trades.items():
            for t in trades:
                if _within(windows, market, symbol, t["T"]):
                    out["agg_trades"].append(Event(market, symbol, t["a"], t["T"], t["a"]))
        for (symbol, speed), diffs in truth.depth_events.items():
            if speed != DEPTH_SPEED_MS:
                continue
            for d in diffs:
                if _within(windows, market, symbol, d["E"]):
                    out["depth_updates"].append(Event(market, symbol, d["u"], d["E"], d["u"]))
        for symbol, marks in truth.mark_prices.items():
            for m in marks:
                if _within(windows, market, symbol, m["E"]):
                    out["mark_prices"].append(Event(market, symbol, m["E"], m["E"], None))
        for symbol, orders in truth.force_orders.items():
            for f in orders:
                if not f["sampled_out"] and _within(windows, market, symbol, f["E"]):
                    out["force_orders"].append(Event(market, symbol, f["E"], f["E"], None))
        if market == "usdm":
            out["open_interest"].extend(_oi_slots(windows))
    return out


def _oi_slots(windows: Windows) -> Iterator[Event]:
    """The 15 s slots (aligned on the epoch, as ``STORED_SQL`` keys them) wholly inside a window.
    A slot's time is its middle: a silence that left it empty spans all of it, so a declared
    silence covers that middle (a point outside the slot would not be)."""
    for (market, symbol), spans in windows.items():
        if market != "usdm":
            continue
        for a, b in spans:
            slot = -(-a // OI_SLOT_MS)  # the first slot starting at or after a
            while (slot + 1) * OI_SLOT_MS <= b:
                yield Event(market, symbol, slot, slot * OI_SLOT_MS + OI_SLOT_MS // 2, None)
                slot += 1


STORED_SQL = {
    "agg_trades": "SELECT market, symbol, agg_trade_id AS k, count(*) AS n FROM agg_trades"
    " GROUP BY 1, 2, 3",
    "depth_updates": "SELECT market, symbol, final_update_id AS k, count(*) AS n"
    " FROM depth_updates GROUP BY 1, 2, 3",
    "mark_prices": "SELECT 'usdm' AS market, symbol,"
    " round(extract(epoch FROM time) * 1000)::bigint AS k, count(*) AS n FROM mark_prices"
    " GROUP BY 1, 2, 3",
    "force_orders": "SELECT 'usdm' AS market, symbol,"
    " round(extract(epoch FROM time) * 1000)::bigint AS k, count(*) AS n FROM force_orders"
    " GROUP BY 1, 2, 3",
    # a sample counts once for its slot; several samples in one slot are not duplicates
    "open_interest": "SELECT 'usdm' AS market, symbol,"
    f" (round(extract(epoch FROM time) * 1000)::bigint / {OI_SLOT_MS}) AS k,"
    " count(DISTINCT time) AS n, count(*) - count(DISTINCT time) AS dup FROM open_interest"
    " GROUP BY 1, 2, 3",
}


async def account(
    db: asyncpg.Connection, truths: dict[str, Truth], windows: Windows
) -> list[StreamCount]:
    gaps = await load_gaps(db)
    counts = []
    events = emitted(truths, windows)
    for stream, sql in STORED_SQL.items():
        rows = await db.fetch(sql)
        stored = {(r["market"], r["symbol"], r["k"]) for r in rows}
        if stream == "open_interest":
            dup = sum(r["dup"] for r in rows)
        else:
            dup = sum(r["n"] - 1 for r in rows)
        counts.append(_count(stream, events.get(stream, []), stored, dup, gaps))
    return counts


def _count(
    stream: str, events: Iterable[Event], stored: set[tuple[str, str, int]], dup: int, gaps: Gaps
) -> StreamCount:
    c = StreamCount(stream, duplicated=dup)
    for e in events:
        c.events += 1
        if (e.market, e.symbol, e.key) in stored:
            c.stored += 1
            continue
        c.lost += 1
        c.lost_by_symbol[f"{e.market}:{e.symbol}"] += 1
        if not gaps.covers(stream, e):
            c.undeclared += 1
            if len(c.undeclared_sample) < 5:
                c.undeclared_sample.append((e.market, e.symbol, e.key))
    return c


async def trade_holes(db: asyncpg.Connection) -> dict[str, Any]:
    """aggTrade holes: declared, repaired (status and every id stored), and the rest."""
    gaps = await db.fetch(
        "SELECT coalesce(market, 'usdm') AS market, symbol, first_id, last_id, status"
        " FROM data_gaps WHERE stream = 'agg_trades' AND first_id IS NOT NULL"
    )
    repaired, left = 0, []
    for g in gaps:
        n = await db.fetchval(
            "SELECT count(DISTINCT agg_trade_id) FROM agg_trades WHERE market = $1"
            " AND symbol = $2 AND agg_trade_id BETWEEN $3 AND $4",
            g["market"],
            g["symbol"],
            g["first_id"],
            g["last_id"],
        )
        if g["status"] == "repaired" and n == g["last_id"] - g["first_id"] + 1:
            repaired += 1
        else:
            left.append({**dict(g), "stored": n})
    pct = 100.0 * repaired / len(gaps) if gaps else 100.0
    return {"holes": len(gaps), "repaired": repaired, "pct": pct, "left": left}
