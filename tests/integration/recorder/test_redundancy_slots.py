"""REDUNDANCY=2 lease slots in the database (sql/029): one slot of a symbol per recorder, the
other copy on another host first, slot 0 moves to the live standby rather than to a newcomer, and
psql shows who leads and who stands by (recorder_redundancy)."""

from __future__ import annotations

import asyncpg

from db import leases

A, B, C = "hosta:1:1.000", "hostb:2:1.000", "hosta:3:1.000"


async def _view(db: asyncpg.Connection) -> dict[str, tuple[str | None, list[str], int]]:
    rows = await db.fetch("SELECT symbol, leader, standbys, live_copies FROM recorder_redundancy")
    return {r[0]: (r[1], list(r[2] or []), r[3]) for r in rows}


async def test_slots_one_per_recorder_other_host_first_and_the_standby_moves_up(db):
    await db.execute("TRUNCATE recorder_leases, recorder_members")
    await leases.offer(db, "usdm", ["XUSDT", "YUSDT"], 2)
    assert await leases.take_slots(db, "usdm", A, ["XUSDT"], 1, 60, 2) == {"XUSDT": 0}
    assert await leases.take_slots(db, "usdm", B, ["YUSDT"], 1, 60, 2) == {"YUSDT": 0}
    # never both slots of one symbol
    assert await leases.take_slots(db, "usdm", A, ["XUSDT"], 5, 60, 2) == {}
    # C runs on A's host: it takes the copy of the symbol whose other copy is on hostb
    assert await leases.take_slots(db, "usdm", C, ["XUSDT", "YUSDT"], 1, 60, 2) == {"YUSDT": 1}
    assert await leases.take_slots(db, "usdm", B, ["XUSDT"], 1, 60, 2) == {"XUSDT": 1}
    assert await _view(db) == {"XUSDT": (A, [B], 2), "YUSDT": (B, [C], 2)}

    # A stops renewing: its slot 0 of XUSDT expires (set here, not slept out: a stall would
    # expire it early, in the middle of the steps above)
    await db.execute(
        "UPDATE recorder_leases SET expires_at = now() - interval '1 s' WHERE owner = $1", A
    )
    assert await leases.take_slots(db, "usdm", C, ["XUSDT"], 1, 60, 2) == {}, (
        "a newcomer does not take slot 0 while a live standby can move up"
    )
    assert await leases.promote(db, "usdm", B, 60, None) == ["XUSDT"]
    assert await leases.renew_slots(db, "usdm", B, 60, None) == {"XUSDT": 0, "YUSDT": 0}
    assert await leases.take_slots(db, "usdm", C, ["XUSDT"], 1, 60, 2) == {"XUSDT": 1}
    assert await _view(db) == {"XUSDT": (B, [C], 2), "YUSDT": (B, [C], 2)}
    previous = await db.fetchval(
        "SELECT previous_owner FROM recorder_leases WHERE symbol = 'XUSDT' AND slot = 0"
    )
    assert previous == A, "the takeover is settled like any other"
