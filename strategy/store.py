"""Writing the engine's outputs, and reading back what a restart needs.

One transaction per engine step holds the indicator rows, signals, positions, fills and the new
watermark: after a crash the worker resumes exactly at the last committed bar boundary, so
nothing is written twice and nothing is skipped. Signals are also NOTIFYed on `flowline_signals`
(delivered at commit).
"""

from __future__ import annotations

import uuid

import asyncpg
import orjson

from settings import SettingsError
from strategy.engine import Engine, Outputs
from strategy.paper import Position
from strategy.risk import DAY_MS, Decision
from strategy.signals import Quality, Side, Signal
from strategy.snapshot import COLUMNS

SIGNAL_CHANNEL = "flowline_signals"
INDICATOR_COLUMNS = ("time", *COLUMNS[1:], "venue")

_SIGNAL = """
INSERT INTO signals (signal_id, time, symbol, strategy, side, entry, stop, target1, target2,
                     quality, score, reasons, decision, qty, venue)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12::jsonb, $13, $14, $15)
ON CONFLICT (signal_id) DO NOTHING"""
_POSITION = """
INSERT INTO positions (position_id, mode, worker, symbol, strategy, side, qty, remaining, status,
                       stop, targets, targets_hit, entry_price, entry_time, exit_price, exit_time,
                       exit_reason, fees, realized_pnl, venue)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19,
        $20)
ON CONFLICT (position_id) DO UPDATE SET
    remaining = EXCLUDED.remaining, status = EXCLUDED.status, stop = EXCLUDED.stop,
    targets_hit = EXCLUDED.targets_hit, entry_price = EXCLUDED.entry_price,
    entry_time = EXCLUDED.entry_time, exit_price = EXCLUDED.exit_price,
    exit_time = EXCLUDED.exit_time, exit_reason = EXCLUDED.exit_reason, fees = EXCLUDED.fees,
    realized_pnl = EXCLUDED.realized_pnl, updated_at = now()"""
_OUTCOME = """
UPDATE signals SET outcome = $2, outcome_time = $3, outcome_price = $4, outcome_pnl = $5,
                   outcome_r = $6
WHERE signal_id = $1"""
_FILL = """
INSERT INTO fills (fill_id, position_id, time, symbol, side, qty, price, fee, kind)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (fill_id) DO NOTHING"""
_STATE = """
INSERT INTO strategy_state (worker, bar_ms, processed, config_fingerprint) VALUES ($1, $2, $3, $4)
ON CONFLICT (worker) DO UPDATE SET bar_ms = EXCLUDED.bar_ms, processed = EXCLUDED.processed,
                                   config_fingerprint = EXCLUDED.config_fingerprint,
                                   updated_at = now()"""
_FINGERPRINT = "UPDATE strategy_state SET config_fingerprint = $2 WHERE worker = $1"


def signal_json(signal: Signal, decision: Decision) -> dict:
    return {
        "signal_id": str(signal.signal_id),
        "time_ms": signal.time_ms,
        "symbol": signal.symbol,
        "strategy": signal.strategy,
        "side": signal.side.value,
        "entry": signal.entry,
        "stop": signal.stop,
        "targets": list(signal.targets),
        "quality": signal.quality.value,
        "score": signal.score,
        "reasons": signal.reasons,
        "decision": decision.reason,
        "qty": decision.qty if decision.accepted else None,
        "venue": signal.venue,
    }


async def write(
    conn: asyncpg.Connection, worker: str, bar_ms: int, out: Outputs, processed_ms: int,
    indicators: bool = True, mode: str = "paper", fingerprint: str | None = None,
    venue: str = "binance",
) -> None:  # fmt: skip
    """Everything of one engine step and the watermark, atomically. `conn` has the ms codec.
    `mode` 'off': positions are hypothetical (a signal's outcome), so no fills are written."""
    async with conn.transaction():
        if indicators and out.snapshots:
            rows = [(*s.row(), venue) for s in out.snapshots]
            await conn.copy_records_to_table("indicators", records=rows, columns=INDICATOR_COLUMNS)
        await write_signals(conn, out.signals)
        positions = list(out.positions.values())
        if positions:
            await conn.executemany(_POSITION, [_position_args(p, mode, worker) for p in positions])
            await conn.executemany(_OUTCOME, [_outcome_args(p) for p in positions])
        if positions and mode == "paper":
            fills = [f for p in positions for f in p.fills]
            await conn.executemany(_FILL, [
                (f.fill_id, f.position_id, f.time_ms, f.symbol, f.side, f.qty, f.price, f.fee,
                 f.kind) for f in fills
            ])  # fmt: skip
        for signal, decision in out.signals:
            payload = orjson.dumps(signal_json(signal, decision)).decode()
            await conn.execute("SELECT pg_notify($1, $2)", SIGNAL_CHANNEL, payload)
        await conn.execute(_STATE, worker, bar_ms, processed_ms, fingerprint)


async def write_signals(conn: asyncpg.Connection, signals: list[tuple[Signal, Decision]]) -> None:
    """Signal rows with their decisions (a repeat is ignored). `conn` has the ms codec."""
    if signals:
        await conn.executemany(_SIGNAL, [_signal_args(s, d) for s, d in signals])


def _signal_args(s: Signal, d: Decision) -> tuple:
    targets = [*s.targets, None, None]
    return (
        s.signal_id, s.time_ms, s.symbol, s.strategy, s.side.value, s.entry, s.stop,
        targets[0], targets[1], s.quality.value, s.score, orjson.dumps(s.reasons).decode(),
        d.reason, d.qty if d.accepted else None, s.venue,
    )  # fmt: skip


def _position_args(p: Position, mode: str, worker: str) -> tuple:
    s = p.signal
    return (
        p.position_id, mode, worker, s.symbol, s.strategy, s.side.value, p.qty, p.remaining,
        p.status, p.stop, p.targets, p.targets_hit, p.entry_price, p.entry_time_ms, p.exit_price,
        p.exit_time_ms, p.exit_reason, p.fees, p.pnl, s.venue,
    )  # fmt: skip


def _outcome_args(p: Position) -> tuple:
    if p.status != "closed":
        return (p.position_id, p.status, None, None, None, None)
    risked = p.qty * p.signal.risk_per_unit
    pnl = p.pnl if p.entry_price is not None else None
    r = pnl / risked if pnl is not None and risked > 0 else None
    return (p.position_id, p.exit_reason, p.exit_time_ms, p.exit_price, pnl, r)


async def load_watermark(
    conn: asyncpg.Connection, worker: str, bar_ms: int, fingerprint: str
) -> int | None:
    """Where the worker stopped, None on a first start. A watermark written under another
    config is refused (its bars, signals and positions came from that config)."""
    row = await conn.fetchrow(
        "SELECT bar_ms, processed, config_fingerprint FROM strategy_state WHERE worker = $1",
        worker,
    )
    if row is None:
        return None
    if row["config_fingerprint"] not in (None, fingerprint) or row["bar_ms"] != bar_ms:
        raise SettingsError(
            f"worker_name {worker!r} was run with another config: start with --reset to begin "
            "again under this name, or set [worker] worker_name to a new name"
        )
    await conn.execute(_FINGERPRINT, worker, fingerprint)  # a row from before fingerprints
    return row["processed"]


async def reset(conn: asyncpg.Connection, worker: str) -> None:
    """`--reset`: forget the worker's watermark; its open positions end without a fill."""
    async with conn.transaction():
        await conn.execute("DELETE FROM strategy_state WHERE worker = $1", worker)
        await conn.execute(
            "UPDATE positions SET status = 'closed', exit_reason = 'reset', updated_at = now()"
            " WHERE worker = $1 AND status <> 'closed'",
            worker,
        )


async def restore(conn: asyncpg.Connection, engine: Engine, now_ms: int) -> int:
    """The worker's open paper (or, EXECUTION=off, hypothetical) positions and the risk
    manager's state from the tables; returns the count."""
    mode, worker = engine.config.executor, engine.config.worker_name
    closed = await conn.fetch(_CLOSED, mode, worker)
    day = now_ms - now_ms % DAY_MS
    counts = await conn.fetch(
        "SELECT quality, count(*) FROM signals WHERE decision = 'accepted' AND time >= $1 "
        "GROUP BY quality",
        day,
    )
    rows = await conn.fetch(_OPEN, mode, worker)
    open_notional = {}
    for row in rows:
        position = _position_from_row(row)
        position.exits = engine.exits.get(position.signal.strategy, position.exits)
        open_notional[row["symbol"]] = row["qty"] * row["entry"]
        if engine.paper is not None:
            engine.paper.rest_limit(position)  # a LIMIT entry rests again from the start
            engine.paper.positions[row["symbol"]] = position
    risk = engine.risk
    for row in closed:  # realized PnL, the losing streak and any cooldown, as they were
        risk.on_closed(row["symbol"], row["realized_pnl"], row["exit_time"])
    risk.restore(open_notional, {(day // DAY_MS, q): n for q, n in counts})
    return len(rows)


# A worker's own positions (rows from before the worker column count as everyone's).
_CLOSED = """
SELECT symbol, realized_pnl, exit_time FROM positions
WHERE status = 'closed' AND exit_time IS NOT NULL AND mode = $1 AND (worker = $2 OR worker IS NULL)
ORDER BY exit_time, position_id"""
_OPEN = """
SELECT p.*, s.time AS signal_time, s.entry, s.quality, s.score, s.reasons, s.target1, s.target2
FROM positions p JOIN signals s ON s.signal_id = p.position_id
WHERE p.status <> 'closed' AND p.mode = $1 AND (p.worker = $2 OR p.worker IS NULL)
ORDER BY p.symbol"""


def signal_from_row(row: asyncpg.Record, time_ms: int) -> Signal:
    """The signal a `signals` row (or a join with one) holds; its id derives from these fields."""
    targets = tuple(t for t in (row["target1"], row["target2"]) if t is not None)
    return Signal(
        time_ms=time_ms, symbol=row["symbol"], strategy=row["strategy"],
        side=Side(row["side"]), entry=row["entry"], stop=row["stop"], targets=targets,
        quality=Quality(row["quality"]), score=row["score"], reasons=orjson.loads(row["reasons"]),
        venue=row.get("venue") or "binance",  # a query that does not read it: Binance's row
    )  # fmt: skip


def _position_from_row(row: asyncpg.Record) -> Position:
    signal = signal_from_row(row, row["signal_time"])
    assert signal.signal_id == uuid.UUID(str(row["position_id"]))
    return Position(
        signal, row["qty"], row["stop"], list(row["targets"]), status=row["status"],
        remaining=row["remaining"], entry_price=row["entry_price"],
        entry_time_ms=row["entry_time"], targets_hit=row["targets_hit"], fees=row["fees"],
        realized=row["realized_pnl"] + row["fees"],
        exit_notional=_exited_notional(row),
    )  # fmt: skip


def _exited_notional(row: asyncpg.Record) -> float:
    exited = row["qty"] - row["remaining"]
    return (row["exit_price"] or 0.0) * exited
