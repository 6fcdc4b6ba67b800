"""The exit rules (strategy/exits.py) on the exchange's live positions, as the paper executor
applies them.

After each step the worker commits it hands over what the step read: the recorded trades and the
bar closes, the rows a paper worker and a backtest read too. Each open position with a known
entry is stepped as an ``ExitWatch``; the actions it asks for are queued and carried out in order
by one task, under the symbol's lock (never in the worker's step: an entry may hold the lock while
its LIMIT order rests). A moved stop is a cancel and a new stop order (``Entries.move_stop``); a
time or strategy exit (``max_hold``, ``exit_on_bar``) a reduce-only MARKET close.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from typing import Any

import asyncpg

from strategy.binance.entries import Entries
from strategy.binance.errors import BinanceError
from strategy.binance.positions import LivePositions
from strategy.binance.store import LivePosition
from strategy.exits import ExitAction, ExitCheck, ExitRules, ExitWatch, stop_kind
from strategy.signals import Side
from strategy.snapshot import Snapshot
from strategy.source import SymbolRows
from strategy.store import signal_from_row
from strategy.strategies.base import Strategy

log = logging.getLogger(__name__)
FAILURES = (BinanceError, asyncpg.PostgresError, asyncpg.InterfaceError, OSError)


class LiveExits:
    def __init__(self, positions: LivePositions, entries: Entries) -> None:
        self.positions = positions
        self.entries = entries
        self.queue: asyncio.Queue[ExitAction] = asyncio.Queue()

    async def on_bars(
        self,
        rows: Mapping[str, SymbolRows],
        snapshots: Sequence[Snapshot],
        bars: Sequence[int],
        strategies: Mapping[str, Sequence[Strategy]],
        rules: Mapping[str, ExitRules],
        default_hold_ms: int,
    ) -> list[ExitAction]:
        """Step every open position through the bars ending at ``bars`` (ms, ascending) and
        queue what its exit rules ask for; returns those actions."""
        actions: list[ExitAction] = []
        for pos in list(self.positions.by_id.values()):
            watch = await self._watch(pos, rules, default_hold_ms)
            if watch is None:
                continue
            symbol = pos.symbol
            check = _exit_check(strategies.get(symbol, ()), watch.signal.strategy)
            ends = {s.end_ms: s for s in snapshots if s.symbol == symbol}
            trades = _trades(rows.get(symbol))
            actions += step(watch, trades, bars, ends, check, self.entries.rounder(symbol))
        for action in actions:
            self.queue.put_nowait(action)
        return actions

    async def _watch(
        self, pos: LivePosition, rules: Mapping[str, ExitRules], default_hold_ms: int
    ) -> ExitWatch | None:
        """The position's exit state, made at its first open step (its signal read back from
        the database after a restart); None while it has no entry or no rules apply."""
        if pos.state != "open" or pos.entry_price is None or pos.entry_time_ms is None:
            return None
        if pos.signal is None:
            try:
                row = await self.entries.store.signal_row(pos.signal_id)
            except FAILURES as exc:
                log.error("exit rules of %s wait for the database: %s", pos.signal_id, exc)
                return None
            if row is None:
                return None
            pos.signal = signal_from_row(row, round(row["time"].timestamp() * 1000))
        if pos.watch is None:
            signal = pos.signal
            exits = rules.get(signal.strategy, ExitRules())
            hold = exits.hold_ms(signal.quality.value, default_hold_ms)
            pos.watch = ExitWatch(signal, pos.entry_price, pos.entry_time_ms, pos.stop_price,
                                  exits, hold)  # fmt: skip
        sign = Side(pos.side).sign  # a stop moved meanwhile (target 1: breakeven) counts
        pos.watch.stop = sign * max(sign * pos.watch.stop, sign * pos.stop_price)
        return pos.watch

    async def run(self) -> None:
        """Carry out the queued actions, one at a time."""
        while True:
            action = await self.queue.get()
            pos = self.positions.by_id.get(action.signal_id)
            if pos is None:
                continue  # ended meanwhile
            async with self.positions.locks[pos.symbol]:
                if pos.signal_id not in self.positions.by_id or pos.state != "open":
                    continue
                try:
                    await self.act(pos, action)
                except FAILURES as exc:  # the open stop still protects it
                    log.error("exit %s of %s %s failed: %s", action.kind, pos.symbol,
                              pos.signal_id, exc)  # fmt: skip

    async def act(self, pos: LivePosition, action: ExitAction) -> None:
        if action.kind != "move":
            log.info("%s %s: %s exit at the bar ending %d", pos.symbol, pos.signal_id,
                     action.kind, action.time_ms)  # fmt: skip
            await self.entries.close_now(pos, f"exit: {action.kind}", action.kind, action.time_ms)
            return
        assert action.stop is not None and pos.entry_price is not None and pos.watch is not None
        sign = Side(pos.side).sign
        kind = stop_kind(pos.watch.rules, sign, pos.entry_price, action.stop)
        await self.entries.move_stop(pos, action.stop, kind)


def step(
    watch: ExitWatch,
    trades: Sequence[tuple[int, float]],
    bars: Sequence[int],
    snapshots: Mapping[int, Snapshot],
    check: ExitCheck | None,
    rounded: Any = float,
) -> list[ExitAction]:
    """``watch`` through the bars ending at ``bars``: each bar's trades, then its close."""
    out: list[ExitAction] = []
    i = 0
    for end in bars:
        j = i
        while j < len(trades) and trades[j][0] < end:
            j += 1
        out += watch.bar(end, trades[i:j], snapshots.get(end), check, rounded)
        i = j
    return out


def _trades(rows: SymbolRows | None) -> list[tuple[int, float]]:
    if rows is None:
        return []
    return list(zip(rows.trade_times, rows.trade_prices, strict=True))


def _exit_check(strategies: Sequence[Strategy], name: str) -> ExitCheck | None:
    for strategy in strategies:
        if strategy.name == name:
            return getattr(strategy, "exit_on_bar", None)
    return None
