"""The spot executor (EXECUTION=binance-spot): the MACD trader's deals on Binance spot.

An accepted LONG signal becomes a deal (deal.py): a LIMIT BUY at the signal price for the pair's
quota; a BUY still open after ``SPOT_ORDER_LIFETIME`` is cancelled and re-placed at the best bid
(``SPOT_BUY_ATTEMPTS`` BUYs in all); once it fills, a LIMIT SELL at the markup above the fill for
what the account holds of it (the commission is taken in the base asset). The stop monitor sells
at market when the best bid reaches the hard stop (``stop_frac`` below the fill), or when the
strategy's book-reading levels say so at a bar close (``on_bars``: ``exit_on_bar`` of
macd_book, the same rule paper trading applies).

The deals' orders are polled (``GET /api/v3/order`` by client id) every ``SPOT_POLL_INTERVAL``;
a deal is written before each order it sends, so reconciliation at start-up is the same step:
each open deal's current order is asked for and its life continues from the answer (a BUY
that filled while the worker was down gets its SELL; one never sent is sent). Open orders with
our prefix that belong to no open deal are cancelled.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections import defaultdict
from collections.abc import Mapping, Sequence
from decimal import ROUND_UP, Decimal
from typing import Any

import asyncpg

from strategy.binance.client import BinanceClient
from strategy.binance.errors import BinanceError, OrderRejected, UnknownOrder
from strategy.binance.filters import SymbolFilters, parse_exchange_info
from strategy.risk import RiskManager
from strategy.signals import Side, Signal
from strategy.snapshot import Snapshot
from strategy.spot.config import SpotConfig
from strategy.spot.deal import PREFIX, Action, Deal, OrderView, decide, stop_hit
from strategy.spot.store import DealStore
from strategy.store import signal_from_row
from strategy.strategies.base import Strategy

log = logging.getLogger(__name__)
MAX_BACKOFF_POLLS = 64  # the longest wait between tries of a rejected SELL, in poll intervals
SPOT_FEE = 0.001  # Binance spot's base commission rate, until the account says its own
RECOVERABLE = (BinanceError, asyncpg.PostgresError, asyncpg.InterfaceError, OSError)


def order_view(body: dict[str, Any]) -> OrderView:
    """``GET``/``POST``/``DELETE /api/v3/order`` → what a deal decides on."""
    executed = float(body.get("executedQty", 0))
    quote = float(body.get("cummulativeQuoteQty", 0))
    return OrderView(body["status"], executed, quote / executed if executed else 0.0)


def commission_rates(account: dict[str, Any]) -> tuple[float, float]:
    """(maker, taker) from ``GET /api/v3/account``: ``commissionRates`` as fractions where the
    answer has them, else ``makerCommission``/``takerCommission`` in hundredths of a percent."""
    rates = account.get("commissionRates")
    if rates:
        return float(rates["maker"]), float(rates["taker"])
    return account["makerCommission"] / 10_000, account["takerCommission"] / 10_000


class SpotExecutor:
    def __init__(
        self,
        config: SpotConfig,
        store: DealStore,
        client: BinanceClient,
        filters: dict[str, SymbolFilters],
        base_assets: dict[str, str],
    ) -> None:
        self.config, self.store, self.client, self.filters = config, store, client, filters
        self.base_assets = base_assets  # symbol -> the asset a BUY gets (BTC of BTCUSDT)
        self.deals: dict[uuid.UUID, Deal] = {}
        self.signals: dict[uuid.UUID, Signal] = {}
        self.locks: defaultdict[str, asyncio.Lock] = defaultdict(asyncio.Lock)
        self.rates = (SPOT_FEE, SPOT_FEE)  # (maker, taker): the account's, once connected
        # deal -> (SELLs rejected in a row, monotonic time of the next try)
        self.rejected: dict[uuid.UUID, tuple[int, float]] = {}
        self._closed: list[tuple[str, float]] = []
        self._tasks: set[asyncio.Task[None]] = set()

    @classmethod
    async def create(cls, config: SpotConfig, pool: asyncpg.Pool) -> SpotExecutor:
        """Connect, reconcile and start the monitor."""
        self = await cls.connect(config, pool)
        try:
            await self.reconcile()
        except BaseException:
            await self.client.close()
            raise
        self._spawn(self.monitor())
        return self

    @classmethod
    async def connect(cls, config: SpotConfig, pool: asyncpg.Pool) -> SpotExecutor:
        """Client, key check, commission rates and filters; no reconciliation, no tasks."""
        if config.live:
            log.warning("!!! BINANCE SPOT LIVE TRADING: real money on %s !!!", config.rest_url)
        else:
            log.info("spot executor: %s trading on %s", config.environment, config.rest_url)
        client = BinanceClient(
            config.rest_url, config.api_key, config.api_secret, recv_window=config.recv_window,
            timeout=config.request_timeout, time_path="/api/v3/time",
        )  # fmt: skip
        try:
            await client.start()
            account = await client.request("GET", "/api/v3/account")  # a bad key fails here
            info = await client.request("GET", "/api/v3/exchangeInfo", security="NONE")
        except BaseException:
            await client.close()
            raise
        bases = {s["symbol"]: s["baseAsset"] for s in info["symbols"]}
        self = cls(config, DealStore(pool), client, parse_exchange_info(info), bases)
        self.rates = commission_rates(account)
        return self

    def _spawn(self, coro: Any) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("spot executor task failed", exc_info=task.exception())

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.client.close()

    # ---- the worker's interface (as BinanceExecutor's) -----------------------------------------

    async def restore_risk(self, risk: RiskManager) -> None:
        for symbol, pnl, closed_ms in await self.store.closed_pnl():
            risk.on_closed(symbol, pnl, closed_ms)
        risk.open.update({d.symbol: d.quota for d in self.deals.values() if d.is_open})

    def busy_symbols(self) -> set[str]:
        return {d.symbol for d in self.deals.values() if d.is_open}

    def take_closed(self) -> list[tuple[str, float]]:
        closed, self._closed = self._closed, []
        return closed

    async def missed_entries(self) -> list[tuple[Signal, float]]:
        """Accepted signals committed but never handed over, younger than ``entry_max_age``."""
        rows = await self.store.fresh_signals(self.config.entry_max_age)
        return [(signal_from_row(r, round(r["time"].timestamp() * 1000)), r["qty"]) for r in rows]

    async def enter(self, signal: Signal, qty: float) -> None:
        """Open a deal for ``signal`` (``qty`` sizes it unless the pair has its own quota)."""
        if signal.side is not Side.LONG:
            log.info("spot: %s is a SHORT signal; spot only buys", signal.signal_id)
            return
        async with self.locks[signal.symbol]:
            if signal.signal_id in self.deals or await self.store.known(signal.signal_id):
                return
            deal = self._new_deal(signal, qty)
            self.deals[deal.deal_id], self.signals[deal.deal_id] = deal, signal
            if deal.state == "rejected":
                log.warning("spot deal %s rejected: %s", deal.deal_id, deal.reason)
                await self.store.save(deal)
                return
            await self.advance(deal)

    def _new_deal(self, signal: Signal, qty: float) -> Deal:
        quota, max_deals = self.config.limits(signal.symbol)
        quota = quota or qty * signal.entry
        deal = Deal(
            signal.signal_id, signal.symbol, signal.strategy, "buying", quota,
            markup=signal.targets[0] / signal.entry - 1, stop_frac=1 - signal.stop / signal.entry,
            buy_price=signal.entry, buy_qty=0.0,
        )  # fmt: skip
        filters = self.filters.get(signal.symbol)
        if filters is None:
            return _rejected(deal, f"{signal.symbol} is not a spot pair")
        if sum(d.symbol == signal.symbol and d.is_open for d in self.deals.values()) >= max_deals:
            return _rejected(deal, f"{max_deals} deal(s) already open on {signal.symbol}")
        deal.buy_price, deal.buy_qty = self._buy_terms(filters, signal.entry, quota)
        if deal.buy_qty <= 0:
            return _rejected(deal, f"quota {quota} buys less than one step")
        return deal

    def _buy_terms(self, filters: SymbolFilters, price: float, quota: float) -> tuple[float, float]:
        limit = filters.price(price)
        qty = filters.qty(Decimal(repr(quota)) / limit)
        return float(limit), float(qty) if qty >= filters.min_qty else 0.0

    def on_bars(
        self, strategies: Mapping[str, Sequence[Strategy]], snapshots: list[Snapshot]
    ) -> None:
        """The stop monitor's book-reading levels: the deal's strategy's ``exit_on_bar`` at each
        bar close of a pair with a deal selling (``strategies``: the engine's, per symbol)."""
        for snap in snapshots:
            for deal in [d for d in self.deals.values() if d.symbol == snap.symbol]:
                signal = self.signals.get(deal.deal_id)
                if deal.state != "selling" or signal is None:
                    continue
                for strategy in strategies.get(snap.symbol, ()):
                    check = getattr(strategy, "exit_on_bar", None)
                    if strategy.name == deal.strategy and check is not None:
                        reason = check(snap, signal, deal.fill_price)
                        if reason is not None:
                            self._spawn(self._stop_now(deal, reason))

    async def _stop_now(self, deal: Deal, reason: str) -> None:
        async with self.locks[deal.symbol]:
            if deal.state == "selling":
                order = await self._order(deal)
                await self._act(deal, "stop", order, reason)

    # ---- the deal loop -------------------------------------------------------------------------

    async def monitor(self) -> None:
        while True:
            await asyncio.sleep(self.config.poll_interval)
            # ended deals live on in spot_deals (a signal seen again is looked up there)
            self.deals = {k: d for k, d in self.deals.items() if d.is_open}
            self.signals = {k: s for k, s in self.signals.items() if k in self.deals}
            for deal in [d for d in self.deals.values() if d.is_open]:
                try:
                    async with self.locks[deal.symbol]:
                        await self.advance(deal)
                except RECOVERABLE as exc:  # the next look tries again
                    log.warning("spot deal %s: %s", deal.deal_id, exc)

    async def reconcile(self) -> None:
        """At start: the stored open deals continue from what the exchange says of them."""
        for deal in await self.store.open_deals():
            self.deals[deal.deal_id] = deal
            row = await self.store.signal_row(deal.deal_id)
            if row is not None:
                self.signals[deal.deal_id] = signal_from_row(
                    row, round(row["time"].timestamp() * 1000)
                )
        for deal in list(self.deals.values()):
            try:
                async with self.locks[deal.symbol]:
                    await self.advance(deal)
            except BinanceError as exc:  # the monitor tries again
                log.warning("spot deal %s not reconciled yet: %s", deal.deal_id, exc)
        wanted = {d.client_id() for d in self.deals.values() if d.is_open}
        for order in await self.client.request("GET", "/api/v3/openOrders"):
            cid = order["clientOrderId"]
            if cid.startswith(PREFIX) and cid not in wanted:
                log.warning("spot: cancelling %s %s, of no open deal", order["symbol"], cid)
                with contextlib.suppress(UnknownOrder):
                    await self._cancel(order["symbol"], cid)
        log.info(
            "spot reconciled: %d open deal(s): %s",
            len(wanted), ", ".join(sorted(self.busy_symbols())) or "none",
        )  # fmt: skip

    # ---- the kill switch (python main.py flatten) -----------------------------------------------

    async def flatten(self) -> list[Deal]:
        """Cancel every open order with our prefix and sell at market what the open deals hold;
        the deals end as closed (``flatten``), or cancelled when their BUY had bought nothing.
        Returns the deals still open (a SELL the exchange refused)."""
        log.warning("FLATTEN: cancelling Flowline's spot orders and selling what its deals hold")
        deals = await self.store.mark_flatten()
        for order in await self.client.request("GET", "/api/v3/openOrders"):
            if order["clientOrderId"].startswith(PREFIX):
                with contextlib.suppress(UnknownOrder):  # it filled or went in the meantime
                    await self._cancel(order["symbol"], order["clientOrderId"])
        for deal in deals:
            self.deals[deal.deal_id] = deal
            await self._flatten_deal(deal)
        return [d for d in self.deals.values() if d.is_open]

    async def _flatten_deal(self, deal: Deal) -> None:
        if deal.state == "buying":
            order = await self._order(deal)  # cancelled above, or filled
            if order is None or order.executed_qty <= 0:
                self._finish(deal, "cancelled", "flatten")
                await self.store.save(deal)
                return
            await self._bought(deal, order)
        if deal.state == "selling":  # cancels its SELL (above) and sells the rest at market
            await self._stop(deal, None, "flatten")
        elif deal.state == "stopping":  # its MARKET SELL went (partly) unfilled, or never left
            if await self._sold_all(deal, await self._order(deal)):
                return  # the stop sold it all before: its reason stays
            deal.reason = "flatten"
            await self.store.save(deal)
            await self._place_sell(deal, "MARKET", None)
        if not deal.is_open:  # closed above, or bought less than a lot
            return
        order = await self._order(deal)
        if order is not None and order.status == "FILLED":
            await self._act(deal, "close", order)

    async def advance(self, deal: Deal) -> None:
        """One step of ``deal`` from its current order's state (caller holds the pair's lock)."""
        if deal.deal_id in self.rejected and time.monotonic() < self.rejected[deal.deal_id][1]:
            return  # its SELL was rejected: backing off
        order = await self._order(deal)
        if order is not None and order.status == "CANCELED" and await self._ended_elsewhere(deal):
            return
        cfg = self.config
        lifetime = round(cfg.order_lifetime * 1000)
        action = decide(deal, order, _now_ms(), lifetime, cfg.buy_attempts)
        if (
            action == "wait"
            and deal.state == "selling"
            and stop_hit(deal, await self._best_bid(deal.symbol))
        ):
            action = "stop"
        await self._act(deal, action, order, "stop_emergency")

    async def _ended_elsewhere(self, deal: Deal) -> bool:
        """Its order cancelled by someone else: ``python main.py flatten`` may be ending the deal
        while this worker runs. Then it is not bought or sold again: a deal being flattened is
        left to flatten, an ended one is taken as stored."""
        stored = await self.store.load(deal.deal_id)
        if stored is None or (stored.is_open and stored.reason != "flatten"):
            return False
        if stored.is_open:
            return True
        vars(deal).update(vars(stored))
        self._closed.append((deal.symbol, deal.pnl or 0.0))
        log.warning("spot deal %s ended elsewhere: %s (%s)", deal.deal_id, deal.state, deal.reason)
        return True

    async def _act(
        self, deal: Deal, action: Action, order: OrderView | None, reason: str = ""
    ) -> None:
        if action == "wait":
            return
        if action == "cancel_buy":
            with contextlib.suppress(UnknownOrder):  # it filled in the meantime
                await self._cancel(deal.symbol, deal.client_id())
            order = await self._order(deal)
            lifetime = round(self.config.order_lifetime * 1000)
            action = decide(deal, order, _now_ms(), lifetime, self.config.buy_attempts)
            if action in ("cancel_buy", "wait"):
                return
            await self._act(deal, action, order)
        elif action in ("place_buy", "replace_buy"):
            await self._buy(deal, action == "replace_buy")
        elif action == "give_up":
            self._finish(deal, "cancelled", f"buy not filled in {deal.attempt + 1} attempt(s)")
            await self.store.save(deal)
        elif action == "place_sell":
            await self._sell(deal, order)
        elif action == "stop":
            await self._stop(deal, order, reason)
        elif action == "close":
            assert order is not None
            maker, taker = self.rates  # the BUY is a LIMIT; so is the SELL at the markup
            deal.settle(order.avg_price, maker, maker if deal.state == "selling" else taker)
            self._finish(deal, "closed", "target" if deal.state == "selling" else deal.reason)
            await self.store.save(deal)
            log.info("spot deal %s closed: %s, pnl %.4f", deal.deal_id, deal.reason, deal.pnl)

    async def _buy(self, deal: Deal, again: bool) -> None:
        if again:
            deal.attempt += 1
            filters = self.filters[deal.symbol]
            bid = await self._best_bid(deal.symbol)
            deal.buy_price, deal.buy_qty = self._buy_terms(filters, bid, deal.quota)
        deal.placed_ms = _now_ms()
        await self.store.save(deal)  # before the order: a restart asks for its client id
        log.info(
            "spot deal %s: BUY %s %s at %s (attempt %d)",
            deal.deal_id, deal.buy_qty, deal.symbol, deal.buy_price, deal.attempt + 1,
        )  # fmt: skip
        try:
            await self._place(deal, "BUY", "LIMIT", deal.buy_qty, deal.buy_price)
        except OrderRejected as exc:
            self._finish(deal, "rejected" if deal.attempt == 0 else "cancelled", exc.msg)
            await self.store.save(deal)

    async def _sell(self, deal: Deal, order: OrderView | None) -> None:
        """The SELL at the markup, for what the account holds of the buy."""
        if deal.state == "buying":
            assert order is not None
            await self._bought(deal, order)
            if not deal.is_open:
                return
        assert deal.sell_qty is not None and deal.sell_price is not None
        log.info("spot deal %s: SELL %s at %s", deal.deal_id, deal.sell_qty, deal.sell_price)
        await self._place_sell(deal, "LIMIT", deal.sell_price)

    async def _bought(self, deal: Deal, order: OrderView) -> None:
        """The BUY is done (``order``): the deal sells what the account holds of it."""
        deal.filled_qty, deal.fill_price = order.executed_qty, order.avg_price
        deal.state = "selling"
        filters = self.filters[deal.symbol]
        target = Decimal(repr(deal.fill_price * (1 + deal.markup)))
        deal.sell_price = float((target / filters.tick).quantize(1, ROUND_UP) * filters.tick)
        held = await self._free(deal.symbol)
        deal.sell_qty = float(filters.qty(min(deal.filled_qty, held)))
        if deal.sell_qty < float(filters.min_qty) or deal.sell_qty <= 0:
            self._finish(deal, "closed", "bought less than one lot after the commission")
        await self.store.save(deal)

    async def _stop(self, deal: Deal, order: OrderView | None, reason: str) -> None:
        """Cancel the SELL at the markup (what it sold stays sold) and sell the rest at market."""
        if deal.state == "selling":
            with contextlib.suppress(UnknownOrder):  # it filled in the meantime, or never was
                await self._cancel(deal.symbol, deal.client_id())
            if await self._sold_all(deal, await self._order(deal)):
                return
            deal.state, deal.reason = "stopping", reason
            await self.store.save(deal)
            log.warning("spot deal %s: %s, selling at market", deal.deal_id, reason)
        await self._place_sell(deal, "MARKET", None)

    async def _place_sell(self, deal: Deal, kind: str, price: float | None) -> None:
        """A SELL the exchange rejects (a balance too small, a filter) is tried again after a
        back-off doubling from the poll interval up to ``MAX_BACKOFF_POLLS`` polls, warned about
        once per run of rejections, not at every poll."""
        try:
            await self._place(deal, "SELL", kind, deal.sell_qty or 0.0, price)
        except OrderRejected as exc:
            count = self.rejected.get(deal.deal_id, (0, 0.0))[0] + 1
            delay = self.config.poll_interval * min(2**count, MAX_BACKOFF_POLLS)
            self.rejected[deal.deal_id] = (count, time.monotonic() + delay)
            if count == 1:
                log.warning(
                    "spot deal %s: %s SELL rejected (%s); retrying with a back-off, not logged"
                    " again until it is accepted", deal.deal_id, kind, exc.msg,
                )  # fmt: skip
            return
        count = self.rejected.pop(deal.deal_id, (0, 0.0))[0]
        if count:
            log.warning("spot deal %s: SELL accepted after %d rejection(s)", deal.deal_id, count)

    async def _sold_all(self, deal: Deal, sell: OrderView | None) -> bool:
        """After the deal's SELL ``sell`` ended (or never was): closes the deal if it filled,
        else leaves in ``sell_qty`` what is still to sell."""
        if sell is not None and sell.status == "FILLED":
            await self._act(deal, "close", sell)
            return True
        sold = sell.executed_qty if sell is not None else 0.0
        deal.sell_qty = float(self.filters[deal.symbol].qty((deal.sell_qty or 0.0) - sold))
        return False

    def _finish(self, deal: Deal, state: str, reason: str | None) -> None:
        deal.state, deal.reason = state, reason
        self._closed.append((deal.symbol, deal.pnl or 0.0))

    # ---- the exchange --------------------------------------------------------------------------

    async def _order(self, deal: Deal) -> OrderView | None:
        try:
            params = {"symbol": deal.symbol, "origClientOrderId": deal.client_id()}
            body = await self.client.request("GET", "/api/v3/order", params)
        except UnknownOrder:
            return None
        return order_view(body)

    async def _place(
        self, deal: Deal, side: str, kind: str, qty: float, price: float | None
    ) -> None:
        params: dict[str, Any] = {
            "symbol": deal.symbol, "side": side, "type": kind, "quantity": Decimal(repr(qty)),
            "newClientOrderId": deal.client_id(), "newOrderRespType": "RESULT",
        }  # fmt: skip
        if price is not None:
            params.update(price=Decimal(repr(price)), timeInForce="GTC")
        await self.client.request("POST", "/api/v3/order", params, order=True)

    async def _cancel(self, symbol: str, client_id: str) -> None:
        params = {"symbol": symbol, "origClientOrderId": client_id}
        await self.client.request("DELETE", "/api/v3/order", params)

    async def _best_bid(self, symbol: str) -> float:
        book = await self.client.request(
            "GET", "/api/v3/depth", {"symbol": symbol, "limit": 5}, security="NONE"
        )
        return float(book["bids"][0][0])

    async def _free(self, symbol: str) -> float:
        """The account's free balance of ``symbol``'s base asset."""
        base = self.base_assets[symbol]
        account = await self.client.request("GET", "/api/v3/account")
        return next((float(b["free"]) for b in account["balances"] if b["asset"] == base), 0.0)


def _rejected(deal: Deal, reason: str) -> Deal:
    deal.state, deal.reason = "rejected", reason
    return deal


def _now_ms() -> int:
    return int(time.time() * 1000)
