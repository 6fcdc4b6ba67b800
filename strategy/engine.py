"""The engine: recorded rows in, indicator snapshots, signals, risk decisions and paper fills out.

Deterministic and synchronous. The live worker and the backtest feed it the same rows through
`feed(rows, until_ms)` and get the same outputs, whatever the batch sizes: time advances in bar
steps, and at each bar boundary every symbol's bar is closed first, then strategies run (symbols
and strategies in a fixed order), then the risk manager decides. Within a bar, symbols are
independent (a paper position only reads its own symbol's trades).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field, replace

from settings import SettingsError
from strategy.anomaly import AnomalyWatch
from strategy.config import StrategyConfig
from strategy.filters import SymbolFilters
from strategy.paper import PaperExecutor, Position, closed_trade
from strategy.pipeline import SymbolPipeline
from strategy.risk import Decision, RiskManager
from strategy.screen import Gate
from strategy.signals import Signal
from strategy.snapshot import Snapshot
from strategy.source import DEPTH, LIQUIDATION, MARK, OPEN_INTEREST, SNAPSHOT, SymbolRows
from strategy.strategies import REGISTRY
from strategy.strategies.base import Strategy
from strategy.trades import ClosedTrade
from strategy.venue import VENUES, BybitSync

DEFAULT_TICK = 0.01


@dataclass
class Outputs:
    snapshots: list[Snapshot] = field(default_factory=list)
    signals: list[tuple[Signal, Decision]] = field(default_factory=list)
    positions: dict[object, Position] = field(default_factory=dict)  # changed, by position id
    closed: list[ClosedTrade] = field(default_factory=list)
    equity: list[tuple[int, float]] = field(default_factory=list)


def build_strategies(config: StrategyConfig, symbol: str) -> list[Strategy]:
    out = []
    for spec in config.strategies:
        enabled, params = spec.for_symbol(symbol)
        if spec.name not in REGISTRY:
            known = ", ".join(sorted(REGISTRY))
            raise SettingsError(f"[strategies.{spec.name}]: unknown strategy (known: {known})")
        if enabled:
            out.append(REGISTRY[spec.name](symbol, params))
    return out


class Engine:
    def __init__(
        self,
        config: StrategyConfig,
        tick_sizes: dict[str, float | None],
        lot_steps: dict[str, float | None] | None = None,
    ) -> None:
        """`tick_sizes` and `lot_steps` per symbol as recorded (strategy/filters.py): sizes
        and paper fills are rounded to them."""
        self.config = config
        self.bar_ms = config.indicators.bar_ms
        self.symbols = tuple(sorted(config.symbols))
        ticks = {s: tick_sizes.get(s) or DEFAULT_TICK for s in self.symbols}
        venue = VENUES[config.venue]
        self.pipelines = {
            s: SymbolPipeline(s, config.indicators, ticks[s], venue) for s in self.symbols
        }
        self.strategies = {s: build_strategies(config, s) for s in self.symbols}
        steps = lot_steps or {}
        filters = {  # only where the tick is known: a guessed one must not move prices
            s: SymbolFilters.recorded(s, tick, steps.get(s))
            for s in self.symbols
            if (tick := tick_sizes.get(s))
        }
        self.risk = RiskManager(config.risk, filters)
        # EXECUTION=off tracks each accepted signal's hypothetical position by the same rules,
        # so its outcome is known and the risk manager frees the symbol when it ends.
        tracked = config.executor in ("paper", "off")
        self.paper = PaperExecutor(config.paper, filters) if tracked else None
        self.exits = {spec.name: spec.exits for spec in config.strategies}
        # [universe]: the callers add its checks (strategy/screen.py run_checks) before feeding
        self.gate = Gate(config.universe, VENUES[config.venue]) if config.universe.active else None
        # [anomaly]: a symbol's signals pause while its data is beyond 3σ of its own history
        self.anomaly = AnomalyWatch(config.anomaly) if config.anomaly.enabled else None
        self.position_ms: int | None = None  # every bar before this boundary is done
        self.last_price: dict[str, float] = {}
        # newest depth diff and mark price seen per symbol: is it still being recorded?
        self.stream_seen: dict[str, list[int | None]] = {s: [None, None] for s in self.symbols}

    def feed(self, rows: dict[str, SymbolRows], until_ms: int, emit: bool = True) -> Outputs:
        """Process every row before `until_ms` (a bar boundary); rows must hold all of them.
        With `emit=False` (warm-up) indicators and strategies advance but nothing is decided."""
        out = Outputs()
        cursors = {s: [0, 0] for s in rows}  # next trade index, next event index
        if self.position_ms is None:
            first = _first_time(rows)
            if first is None:
                return out
            self.position_ms = first - first % self.bar_ms
        for boundary in self._boundaries(until_ms):
            for symbol in self.symbols:
                if symbol in rows:
                    self._run_symbol(symbol, rows[symbol], cursors[symbol], boundary, out)
            if self.paper is not None:
                self._flatten_stale(boundary, out)
            self._close_bars(boundary, out, emit)
            self.position_ms = boundary
        return out

    def seed_books(self, rows: dict[str, SymbolRows]) -> None:
        """Depth snapshots and diffs only, before a warm-up: the books, not the indicators."""
        for symbol, symbol_rows in rows.items():
            pipeline = self.pipelines.get(symbol)
            if pipeline is None:
                continue
            for time_ms, kind, payload in symbol_rows.events:
                if kind in (DEPTH, SNAPSHOT):
                    self._apply(pipeline, time_ms, kind, payload)

    def _of_venue(self, signal: Signal) -> Signal:
        """The signal says its venue (so the same bar on two venues gives two signal ids)."""
        venue = self.config.venue
        return signal if signal.venue == venue else replace(signal, venue=venue)

    def _boundaries(self, until_ms: int) -> Iterator[int]:
        assert self.position_ms is not None
        boundary = self.position_ms + self.bar_ms
        while boundary <= until_ms:
            yield boundary
            boundary += self.bar_ms

    def _run_symbol(
        self, symbol: str, rows: SymbolRows, cursor: list[int], end_ms: int, out: Outputs
    ) -> None:
        """Feed the symbol's rows before `end_ms`, trades batched between other events."""
        pipeline, events = self.pipelines[symbol], rows.events
        seen = self.stream_seen.setdefault(symbol, [None, None])
        while cursor[1] < len(events) and events[cursor[1]][0] < end_ms:
            time_ms, kind, payload = events[cursor[1]]
            self._trades(symbol, rows, cursor, time_ms, out)  # trades at the same ms go first
            self._apply(pipeline, time_ms, kind, payload)
            if kind in (DEPTH, MARK):
                seen[kind == MARK] = time_ms
            cursor[1] += 1
        self._trades(symbol, rows, cursor, end_ms, out)

    def _trades(
        self, symbol: str, rows: SymbolRows, cursor: list[int], before_ms: int, out: Outputs
    ) -> None:
        start = cursor[0]
        stop = rows.trades_before(start, before_ms)
        if stop == start:
            return
        times, prices = rows.trade_times[start:stop], rows.trade_prices[start:stop]
        qtys, makers = rows.trade_qtys[start:stop], rows.trade_makers[start:stop]
        self.pipelines[symbol].on_trades(times, prices, qtys, makers)
        self.last_price[symbol] = prices[-1]
        cursor[0] = stop
        if self.paper is not None and symbol in self.paper.positions:
            for time_ms, price in zip(times, prices, strict=True):
                changed = self.paper.on_trade(symbol, time_ms, price)
                if changed is not None:
                    self._position_changed(changed, out)

    @staticmethod
    def _apply(pipeline: SymbolPipeline, time_ms: int, kind: int, payload: object) -> None:
        if kind == DEPTH:
            pipeline.on_depth(payload)  # type: ignore[arg-type]
        elif kind == SNAPSHOT:
            sync, last = pipeline.sync, payload.last_update_id  # type: ignore[attr-defined]
            if isinstance(sync, BybitSync):  # its own rule: a snapshot replaces the book
                pipeline.on_snapshot(payload)  # type: ignore[arg-type]
                return
            if sync.prev_u is not None and last > sync.prev_u:
                # past every diff seen: the recorder reconnected and its stream starts anew
                # here, so the next diff is judged against this snapshot, not the old stream
                sync.reset()
            if not sync.valid:  # a valid chain needs no snapshot; reloading breaks it
                pipeline.on_snapshot(payload)  # type: ignore[arg-type]
        elif kind == LIQUIDATION:
            is_sell, notional = payload  # type: ignore[misc]
            pipeline.on_liquidation(time_ms, is_sell, notional)
        elif kind == MARK:
            pipeline.on_mark(*payload)  # type: ignore[misc]
        elif kind == OPEN_INTEREST:
            pipeline.on_open_interest(payload)  # type: ignore[arg-type]

    def _close_bars(self, boundary: int, out: Outputs, emit: bool) -> None:
        self._time_exits(boundary, out)
        candidates: list[Signal] = []
        for symbol in self.symbols:
            for snap in self.pipelines[symbol].close_bars(boundary):
                if emit:
                    out.snapshots.append(snap)
                if self.gate is not None:
                    self.gate.on_bar(snap)
                if self.anomaly is not None:
                    self.anomaly.on_bar(snap, self._data_age(symbol, boundary))
                if self.risk.correlations is not None and snap.close is not None:
                    self.risk.correlations.add(symbol, snap.time_ms, snap.close)
                self._strategy_exit(snap, out)
                for strategy in self.strategies[symbol]:
                    signal = strategy.on_bar(snap)
                    if signal is not None and emit:
                        candidates.append(self._of_venue(signal))
        for signal in candidates:
            excluded = self.gate.refusal(signal.symbol, boundary) if self.gate else None
            if excluded is None and self.anomaly is not None:
                excluded = self.anomaly.refusal(signal.symbol, boundary)
            decision = Decision(False, excluded) if excluded else self.risk.decide(signal)
            out.signals.append((signal, decision))
            if decision.accepted and self.paper is not None:
                exits = self.exits.get(signal.strategy)
                position = self.paper.submit(signal, decision.qty, exits)
                out.positions[position.position_id] = position

    def _data_age(self, symbol: str, boundary: int) -> int | None:
        """ms from the staler of the symbol's recorded depth diffs and mark prices to now."""
        heard = [t for t in self.stream_seen.get(symbol, ()) if t is not None]
        return boundary - min(heard) if heard else None

    def _strategy_exit(self, snap: Snapshot, out: Outputs) -> None:
        """The open position's own strategy may close it at this bar close from what the bar
        shows (`exit_on_bar`: a wall eroded, the book turned against a losing trade)."""
        pos = self.paper.positions.get(snap.symbol) if self.paper is not None else None
        if pos is None or pos.status != "open" or snap.close is None:
            return
        for strategy in self.strategies.get(snap.symbol, ()):
            check = getattr(strategy, "exit_on_bar", None)
            if strategy.name != pos.signal.strategy or check is None:
                continue
            reason = check(snap, pos.signal, pos.entry_price)
            if reason is not None:
                assert self.paper is not None
                price = self.last_price.get(snap.symbol, snap.close)
                closed = self.paper.close(snap.symbol, snap.end_ms, price, reason)
                if closed is not None:
                    self._position_changed(closed, out)
            return

    def _flatten_stale(self, boundary: int, out: Outputs) -> None:
        """Close open paper positions of symbols whose recorded streams (depth diffs, mark
        price: a quiet symbol has both without trades) were silent `stale_flatten_ms` before
        this bar boundary, at the last traded price — as the Binance watchdog would, but on
        the recording's clock, so a backtest does the same. A stream never recorded for the
        symbol is not judged."""
        assert self.paper is not None
        limit = self.config.paper.stale_flatten_ms
        if limit <= 0:
            return
        for symbol, pos in list(self.paper.positions.items()):
            heard = [t for t in self.stream_seen.get(symbol, ()) if t is not None]
            if pos.status != "open" or not heard or boundary - min(heard) <= limit:
                continue
            closed = self.paper.close_stale(symbol, boundary, self.last_price[symbol])
            if closed is not None:
                self._position_changed(closed, out)

    def _time_exits(self, boundary: int, out: Outputs) -> None:
        """Close positions held `max_hold` or longer at the bar close, at the last trade price."""
        if self.paper is None:
            return
        for symbol, pos in list(self.paper.positions.items()):
            hold = pos.exits.hold_ms(pos.signal.quality.value, self.config.paper.max_hold_ms)
            entered = pos.entry_time_ms
            if not hold:
                continue
            if entered is not None and entered + hold <= boundary and symbol in self.last_price:
                price = {symbol: self.last_price[symbol]}
                for closed in self.paper.close_all(boundary, price, "time"):
                    self._position_changed(closed, out)

    def drop_symbol(self, symbol: str, time_ms: int) -> Outputs:
        """The symbol leaves the worker's universe: its tracked position ends at the last price
        (no more rows will come to close it) and its pipeline and strategies go."""
        out = Outputs()
        if self.paper is not None and symbol in self.paper.positions:
            prices = {symbol: self.last_price[symbol]} if symbol in self.last_price else {}
            for closed in self.paper.close_all(time_ms, prices, "symbol_removed"):
                self._position_changed(closed, out)
            pending = self.paper.positions.pop(symbol, None)
            if pending is not None:  # never entered (or no price known): ends without a trade
                pending.status, pending.exit_reason = "closed", "symbol_removed"
                pending.exit_time_ms = time_ms
                out.positions[pending.position_id] = pending
            self.risk.on_closed(symbol, 0.0, time_ms)  # a pending entry's slot; no-op else
        # (on Binance the exchange still holds the position: its slot frees when it closes)
        self.symbols = tuple(s for s in self.symbols if s != symbol)
        self.pipelines.pop(symbol, None)
        self.strategies.pop(symbol, None)
        return out

    def adopt(self, other: Engine, symbol: str) -> None:
        """Take over `symbol`'s warmed-up pipeline and strategies from `other` (an engine of
        the same config that warmed up on that symbol alone)."""
        self.pipelines[symbol] = other.pipelines[symbol]
        self.strategies[symbol] = other.strategies[symbol]
        self.symbols = tuple(sorted((*self.symbols, symbol)))
        if symbol in other.risk.filters:  # its recorded tick and lot step come along
            self.risk.filters[symbol] = other.risk.filters[symbol]
            if self.paper is not None and other.paper is not None:
                self.paper.filters[symbol] = other.paper.filters[symbol]
        if symbol in other.last_price:
            self.last_price[symbol] = other.last_price[symbol]

    def _position_changed(self, pos: Position, out: Outputs) -> None:
        out.positions[pos.position_id] = pos
        if pos.status == "closed" and pos.entry_price is None:  # a LIMIT entry never filled
            self.risk.on_closed(pos.signal.symbol, 0.0, pos.exit_time_ms or 0)
        elif pos.status == "closed":
            trade = closed_trade(pos)
            self.risk.on_closed(pos.signal.symbol, trade.pnl, trade.exit_time_ms)
            out.closed.append(trade)
            out.equity.append((trade.exit_time_ms, self.risk.equity))

    def finish(self, time_ms: int) -> Outputs:
        """End of a backtest: close what is open at the last prices."""
        out = Outputs()
        if self.paper is not None:
            for pos in self.paper.close_all(time_ms, self.last_price, "end_of_data"):
                self._position_changed(pos, out)
        return out


def _first_time(rows: dict[str, SymbolRows]) -> int | None:
    firsts = [r.trade_times[0] for r in rows.values() if r.trade_times]
    firsts += [r.events[0][0] for r in rows.values() if r.events]
    return min(firsts) if firsts else None
