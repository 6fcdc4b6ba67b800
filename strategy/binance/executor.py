"""The Binance executor: a signal becomes an entry, a stop-loss and take-profits on the exchange.

It puts together the parts, each in its own module, working on one set of live positions
(positions.py; per symbol everything runs under one lock, so events and signals never interleave):

- entries.py — filters, leverage and margin type, the entry, the stop and targets, breakeven;
- exits.py — the strategies' exit rules (breakeven, trailing, max_hold, exit_on_bar) on the
  recorded trades and bar closes the worker hands over, as the paper executor applies them;
- events.py — the user-data stream's order updates and fills (realized PnL, fees), flat positions;
- reconcile.py — stored state against positionRisk, open orders and open algo orders, at start-up
  and after every user-data reconnect;
- watchdog.py — flattens a symbol whose recorded streams go silent (retrying until flat), and
  keeps going through a database outage.

A closed position's realized PnL (the fills' ``rp`` less commissions, pnl.py) is stored and handed
to the risk manager by ``take_closed`` once the closing fills are in (they may come after the
ACCOUNT_UPDATE). State lives in ``exchange_positions``/``exchange_orders``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

import asyncpg

from strategy.binance.client import BinanceClient
from strategy.binance.config import BinanceConfig
from strategy.binance.entries import Entries
from strategy.binance.events import UserEvents
from strategy.binance.exits import LiveExits
from strategy.binance.filters import SymbolFilters, parse_exchange_info
from strategy.binance.orders import Orders
from strategy.binance.pnl import FeePrices
from strategy.binance.positions import LivePositions
from strategy.binance.reconcile import Reconciler
from strategy.binance.store import Store
from strategy.binance.userdata import UserDataStream
from strategy.binance.watchdog import StaleWatchdog
from strategy.risk import RiskManager
from strategy.signals import Signal
from strategy.store import signal_from_row

log = logging.getLogger(__name__)
MARGIN_ASSET = "USDT"  # USDⓈ-M: positions are sized from this asset's wallet balance
DATABASE_ERRORS = (asyncpg.PostgresError, asyncpg.InterfaceError, OSError)


class BinanceExecutor:
    def __init__(
        self,
        config: BinanceConfig,
        store: Store,
        client: BinanceClient,
        filters: dict[str, SymbolFilters],
    ) -> None:
        self.config = config
        self.store = store
        self.client = client
        self.orders = Orders(client, store)
        self.filters = filters
        self.live = LivePositions(store, self.orders)
        self.entries = Entries(config, client, self.orders, self.live, filters)
        self.exits = LiveExits(self.live, self.entries)
        self.events = UserEvents(
            self.live, self.entries, store, FeePrices(client), on_balance=self._on_balance
        )
        self.balance: float | None = None  # the margin asset's wallet balance
        self._risk: RiskManager | None = None  # sized from that balance
        self.reconciler = Reconciler(self.live, self.orders, self.entries)
        self.stream = UserDataStream(
            client, config.ws_url, self._reconcile_on_connect, config.keepalive_interval
        )
        self.watchdog = StaleWatchdog(
            store.stream_age,
            self.open_symbols,
            self.flatten_symbol,
            config.stale_flatten_after,
            config.stale_check_interval,
            on_db_back=self.reconciler.reconcile,
        )
        self._tasks: list[asyncio.Task[None]] = []

    # ---- set-up and tear-down ------------------------------------------------------------------

    @classmethod
    async def connect(cls, config: BinanceConfig, pool: asyncpg.Pool) -> BinanceExecutor:
        """Client, clock, key check, filters and stored state; no reconciliation, no tasks."""
        if config.live:
            log.warning(
                "!!! BINANCE LIVE TRADING: real orders with real money on %s !!!", config.rest_url
            )
        else:  # the environment named from the host the orders really go to
            log.info("binance executor: %s trading on %s", config.environment, config.rest_url)
        client = BinanceClient(
            config.rest_url,
            config.api_key,
            config.api_secret,
            recv_window=config.recv_window,
            timeout=config.request_timeout,
        )
        try:
            await client.start()
            account = await client.request("GET", "/fapi/v2/account")  # a bad key fails here
            info = await client.request("GET", "/fapi/v1/exchangeInfo", security="NONE")
        except BaseException:
            await client.close()
            raise
        self = cls(config, Store(pool), client, parse_exchange_info(info))
        self.balance = wallet_balance(account)
        log.info("binance account: %s %s wallet balance", self.balance, MARGIN_ASSET)
        self.live.by_id = {p.signal_id: p for p in await self.store.live_positions()}
        return self

    @classmethod
    async def create(cls, config: BinanceConfig, pool: asyncpg.Pool) -> BinanceExecutor:
        """Connect, reconcile with the exchange, and start the user-data stream and watchdog."""
        self = await cls.connect(config, pool)
        try:
            await self.reconciler.reconcile()
        except BaseException:
            await self.client.close()
            raise
        self._spawn(self.stream.run(), "binance-user-data")
        self._spawn(self.events.consume(self.stream.events), "binance-events")
        self._spawn(self.watchdog.run(), "binance-stale-data")
        self._spawn(self.exits.run(), "binance-exits")
        return self

    async def _reconcile_on_connect(self) -> None:
        """After a user-data (re)connect. With the database down the stream must still run
        (it is what sees stops fill): the watchdog reconciles once the database is back."""
        try:
            await self.reconciler.reconcile()
        except DATABASE_ERRORS as exc:
            log.error("reconciliation deferred until the database is back: %s", exc)
            self.watchdog.reconcile_owed = True

    def _spawn(self, coro: Any, name: str) -> None:
        task = asyncio.create_task(coro, name=name)
        task.add_done_callback(_report_crash)
        self._tasks.append(task)

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()
        await self.client.close()

    async def restore_risk(self, risk: RiskManager) -> None:
        """Size ``risk``'s positions from the account: its wallet balance (kept current from
        ACCOUNT_UPDATE) and LEVERAGE. After a restart also the loss streak and any cooldown
        from the positions closed on the exchange, and the open ones."""
        self._risk = risk
        risk.balance, risk.leverage = self.balance, self.config.leverage
        closed, open_notional = await self.store.risk_history()
        for symbol, pnl, closed_ms in closed:
            risk.on_closed(symbol, pnl, closed_ms)
        risk.open.update(open_notional)

    def _on_balance(self, balances: dict[str, float]) -> None:
        if MARGIN_ASSET in balances:
            self.balance = balances[MARGIN_ASSET]
            if self._risk is not None:
                self._risk.balance = self.balance

    def open_symbols(self) -> set[str]:
        return self.live.open_symbols()

    def busy_symbols(self) -> set[str]:
        """Open, or closed with the PnL of its closing fills still to come."""
        return self.live.busy_symbols()

    def take_closed(self) -> list[tuple[str, float]]:
        """(symbol, net PnL) of the positions closed since the last call, once their closing
        fills are in, for the risk manager."""
        return self.live.take_closed()

    # ---- signals -------------------------------------------------------------------------------

    async def missed_entries(self) -> list[tuple[Signal, float]]:
        """Accepted signals the worker committed but never handed over (it stopped in between):
        those younger than ``entry_max_age`` to enter now, older ones recorded as missed."""
        fresh = []
        for row in await self.store.unhandled_signals():
            signal = signal_from_row(row, round(row["time"].timestamp() * 1000))
            assert signal.signal_id == row["signal_id"], "a signals row that does not match its id"
            if row["age"] <= self.config.entry_max_age:
                log.warning("entering signal %s, accepted before a restart", signal.signal_id)
                fresh.append((signal, row["qty"]))
            else:
                reason = f"missed: the worker stopped before entering it ({row['age']:.0f} s ago)"
                await self.entries.reject(signal, row["qty"], reason)
        return fresh

    async def enter(self, signal: Signal, qty: float) -> None:
        """Trade ``signal`` with ``qty``; a signal already seen (same signal_id) does nothing."""
        async with self.live.locks[signal.symbol]:
            await self.entries.enter(signal, qty)

    async def flatten(self, reason: str) -> None:
        """Cancel every Flowline order and close every Flowline position."""
        log.warning("FLATTEN (%s): cancelling Flowline's orders and closing its positions", reason)
        symbols = self.open_symbols() | {s for s, _, _ in await self.orders.open_ours()}
        for symbol in sorted(symbols):
            await self.flatten_symbol(symbol, reason)

    async def flatten_symbol(self, symbol: str, reason: str) -> None:
        async with self.live.locks[symbol]:
            for pos in self.live.on(symbol):
                await self.entries.close_now(pos, f"flatten: {reason}", "flatten")
            for sym, cid, algo in await self.orders.open_ours(symbol):  # orphans of old signals
                await self.orders.cancel(sym, cid, algo, f"flatten: {reason}")


def wallet_balance(account: dict[str, Any]) -> float | None:
    """The margin asset's ``walletBalance`` in a ``/fapi/v2/account`` answer."""
    for asset in account.get("assets", []):
        if asset.get("asset") == MARGIN_ASSET:
            return float(asset["walletBalance"])
    return None


def _report_crash(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("binance executor task %s crashed", task.get_name(), exc_info=task.exception())
