"""The simulator as one aiohttp application: WebSocket streams, REST and control API on one port.

    async with Simulator(["BTCUSDT"], seed=1, record_truth=True) as sim:
        ...  # clients use sim.ws_url + "/public/stream?streams=...", sim.http_url + "/fapi/v1/..."

``Simulator`` is also the in-process API for tests: ``advance()`` a paused market, inspect
``truth``, switch ``faults``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Mapping
from decimal import Decimal
from pathlib import Path
from types import TracebackType
from typing import Any

from aiohttp import web

from sim.accounts import DEFAULT_API_KEY, DEFAULT_API_SECRET, DEFAULT_WALLET, Account, ticks_of
from sim.blast import Blast
from sim.bybit import BybitFeed, BybitTruth
from sim.bybit_rest import BAN_SECONDS, IP_LIMIT, BybitRestApi, IpLimiter
from sim.bybit_ws import IDLE_TIMEOUT, BybitWsServer
from sim.clock import Pacer
from sim.control import ControlApi
from sim.faults import Faults
from sim.feed import AGG_TRADES_WINDOW_MS, Feed
from sim.hub import Hub
from sim.orders import Engine
from sim.ratelimit import WeightLimiter
from sim.replay import Replay, load_capture
from sim.rest import RestApi
from sim.script import Script, load_script, parse_script
from sim.signing import Authenticator
from sim.spot import SpotFeed
from sim.spot_api import SPOT_WEIGHT_LIMIT, SpotRestApi, SpotWsServer
from sim.spot_orders import DEFAULT_SPOT_BALANCES, SpotEngine
from sim.spot_trading import SpotTrading
from sim.trading_rest import TradingRest
from sim.truth import Truth, render_book
from sim.userdata import UserData
from sim.ws import WsServer, WsSettings

log = logging.getLogger(__name__)


def _script(script: Script | str | Path | dict[str, Any] | None) -> Script:
    if script is None:
        return Script()
    if isinstance(script, Script):
        return script
    if isinstance(script, dict):
        return parse_script(script)
    return load_script(script)


class Simulator:
    """A Binance USDⓈ-M futures market-data exchange on one local port."""

    def __init__(
        self,
        symbols: list[str] | tuple[str, ...] = ("BTCUSDT",),
        *,
        seed: int = 1,
        script: Script | str | Path | dict[str, Any] | None = None,
        start_ms: int | None = None,
        speed: float = 1.0,
        rate: float = 100.0,
        step_ms: int = 50,
        paused: bool = False,
        record_truth: bool = False,
        ping_interval: float = 180.0,
        pong_timeout: float = 600.0,
        max_connection_age: float = 86_400.0,
        incoming_limit: int = 10,
        weight_limit: int = 2400,
        weight_window: float = 60.0,
        ban_after: int = 3,
        ban_seconds: float = 120.0,
        agg_trades_window_ms: int = AGG_TRADES_WINDOW_MS,
        history_limit: int = 500_000,
        replay: str | Path | None = None,
        blast: bool = False,
        control: bool = True,
        api_keys: dict[str, str] | None = None,
        listen_key_ttl: float = 3600.0,
        wallet: float = DEFAULT_WALLET,
        spot_symbols: list[str] | tuple[str, ...] = (),
        spot_weight_limit: int = SPOT_WEIGHT_LIMIT,
        ids_after: Mapping[str, tuple[int, int]] | None = None,
        bybit_symbols: list[str] | tuple[str, ...] = (),
        bybit_idle_timeout: float = IDLE_TIMEOUT,
        bybit_ip_limit: int = IP_LIMIT,
        bybit_ban_seconds: float = BAN_SECONDS,
    ) -> None:
        """`ids_after`: per symbol (depth update id, aggregate trade id) its sequences continue
        after, so a simulator restarted against the same recording never repeats an id.
        `bybit_symbols`: also serve Bybit v5 linear for these (``bybit_ws_url``, ``/v5/market``
        REST on the same port; not in replay or blast mode)."""
        self.symbols = [s.upper() for s in symbols]
        self.faults = Faults()
        self.hub = Hub(self.faults)
        self.truth: Truth | None = Truth() if record_truth and replay is None else None
        self.script = _script(script)
        self.feed: Feed | None = None
        self.replay: Replay | None = None
        if replay is not None:
            self.replay = Replay(load_capture(replay), self.hub)
            source: Any = self.replay
            self.symbols = sorted(self.replay.symbols)
        else:
            self.feed = Feed(
                self.symbols,
                seed=seed,
                rate=rate,
                start_ms=int(time.time() * 1000) if start_ms is None else start_ms,
                step_ms=step_ms,
                script=self.script,
                hub=self.hub,
                faults=self.faults,
                ids_after=ids_after,
                truth=self.truth,
                agg_trades_window_ms=agg_trades_window_ms,
                history_limit=history_limit,
            )
            source = self.feed
            if blast:
                # rate = frames/s (simulated) per blasted stream
                source = Blast(self.feed, self.hub, int(rate * step_ms / 1000))
        self.pacer = Pacer(source, self.hub, speed, paused)
        self.limiter = WeightLimiter(weight_limit, weight_window, ban_after, ban_seconds)
        self.rest = RestApi(self.feed, self.limiter, self.faults)
        ws_settings = WsSettings(ping_interval, pong_timeout, max_connection_age, incoming_limit)
        self.ws = WsServer(
            self.hub,
            self.faults,
            ws_settings,
            symbols=lambda: set(self.symbols),
            on_kline=self.feed.track_kline if self.feed is not None else None,
        )
        # Spot (optional): its own markets, truth, hub, streams under /spot and REST under /api/v3
        # with its own weight budget. Not in replay or blast mode.
        self.spot: SpotFeed | None = None
        self.spot_truth: Truth | None = None
        self._spot_servers: tuple[SpotWsServer, SpotRestApi] | None = None
        if spot_symbols and self.feed is not None and not blast:
            self.spot_truth = Truth() if record_truth else None
            self.spot = SpotFeed(
                [s.upper() for s in spot_symbols],
                self.feed,
                seed=seed,
                rate=rate,
                truth=self.spot_truth,
                history_limit=history_limit,
            )
            spot_limiter = WeightLimiter(spot_weight_limit, weight_window, ban_after, ban_seconds)
            self._spot_servers = (
                SpotWsServer(self.spot.hub, self.faults, ws_settings, self.spot),
                SpotRestApi(self.spot, spot_limiter, self.faults),
            )
        # Bybit (optional): its own markets, truth and hub on the same clock and script.
        self.bybit: BybitFeed | None = None
        self.bybit_truth: BybitTruth | None = None
        self._bybit_servers: tuple[BybitWsServer, BybitRestApi] | None = None
        if bybit_symbols and self.feed is not None and not blast:
            self.bybit_truth = BybitTruth() if record_truth else None
            self.bybit = BybitFeed(
                [s.upper() for s in bybit_symbols],
                self.feed,
                seed=seed,
                rate=rate,
                truth=self.bybit_truth,
            )
            self._bybit_servers = (
                BybitWsServer(self.bybit, self.faults, bybit_idle_timeout),
                BybitRestApi(self.bybit, IpLimiter(bybit_ip_limit, ban_s=bybit_ban_seconds)),
            )
        # Trading: accounts from API key → secret pairs (default: the test pair), signed endpoints
        # and the user-data stream. Needs a live market (not a replay).
        keys = api_keys if api_keys is not None else {DEFAULT_API_KEY: DEFAULT_API_SECRET}
        self.accounts = {k: Account(k, secret, wallet) for k, secret in keys.items()}
        self.userdata = UserData(self.hub, listen_key_ttl, self.rest.server_time)
        self.faults.listen_key_expirer = self.userdata.expire
        self.engine: Engine | None = None
        self.trading: TradingRest | None = None
        if self.feed is not None:
            self.engine = Engine(self.feed, self.accounts, self.userdata.publish)
            auth = Authenticator(self.accounts, self.rest.signing_time)
            self.trading = TradingRest(self.rest, self.engine, auth, self.userdata, self.faults)
        # Spot trading: the same keys, balances per asset, orders on the spot markets
        self.spot_engine: SpotEngine | None = None
        self.spot_trading: SpotTrading | None = None
        if self.spot is not None and self._spot_servers is not None and self.feed is not None:
            self.spot_engine = SpotEngine(self.spot, list(keys), DEFAULT_SPOT_BALANCES)
            auth = Authenticator(self.accounts, self.rest.signing_time)
            self.spot_trading = SpotTrading(self._spot_servers[1], self.spot_engine, auth)
        self.control = ControlApi(self) if control else None
        self.host = "127.0.0.1"
        self.port = 0
        self._runner: web.AppRunner | None = None
        self._task: asyncio.Task[None] | None = None
        self._report_task: asyncio.Task[None] | None = None
        self._keys_task: asyncio.Task[None] | None = None

    # ---- lifecycle -----------------------------------------------------------------------------

    def app(self) -> web.Application:
        app = web.Application()
        app.add_routes(self.ws.routes())
        app.add_routes(self.rest.routes())
        if self._spot_servers is not None:
            for server in self._spot_servers:
                app.add_routes(server.routes())
        if self._bybit_servers is not None:
            for bybit_server in self._bybit_servers:
                app.add_routes(bybit_server.routes())
        if self.trading is not None:
            app.add_routes(self.trading.routes())
            app.add_routes(self.userdata.routes(self.ws))
        if self.spot_trading is not None:
            app.add_routes(self.spot_trading.routes())
        if self.control is not None:
            app.add_routes(self.control.routes())
        app.on_shutdown.append(self._close_connections)
        return app

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> None:
        """Serve on ``host:port`` (0: any free port) and start the market clock."""
        self._runner = web.AppRunner(self.app(), access_log=None, shutdown_timeout=2.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        self.host = host
        self.port = self._runner.addresses[0][1]
        self._task = asyncio.create_task(self.pacer.run(), name="sim-pacer")
        self._report_task = asyncio.create_task(self._report(), name="sim-report")
        self._keys_task = asyncio.create_task(self.userdata.run(), name="sim-listen-keys")
        log.info("simulator serving %s (symbols=%s)", self.http_url, ",".join(self.symbols))

    async def stop(self) -> None:
        tasks = [t for t in (self._task, self._report_task, self._keys_task) if t is not None]
        for task in tasks:
            task.cancel()
        # gather(return_exceptions) collects our tasks' cancellations but still propagates a
        # cancellation of stop() itself.
        await asyncio.gather(*tasks, return_exceptions=True)
        self._task = self._report_task = self._keys_task = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Simulator:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    async def _report(self, every: float = 60.0) -> None:
        """One line of counters a minute."""
        frames, requests = self.hub.frames, self.rest.requests
        while True:
            await asyncio.sleep(every)
            log.info(
                "sim: now=%s connections=%d frames/min=%d rest/min=%d paused=%s",
                time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.now // 1000)),
                len(self.hub.open),
                self.hub.frames - frames,
                self.rest.requests - requests,
                self.pacer.paused,
            )
            frames, requests = self.hub.frames, self.rest.requests

    async def _close_connections(self, app: web.Application) -> None:
        spot = list(self.spot.hub.open) if self.spot is not None else []
        bybit = list(self.bybit.hub.open) if self.bybit is not None else []
        for connection in [*self.hub.open, *spot, *bybit]:
            with contextlib.suppress(ConnectionError, RuntimeError):
                await connection.ws.close(code=1001, message=b"Server shutdown")

    # ---- addresses and clock -------------------------------------------------------------------

    @property
    def http_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://{self.host}:{self.port}"

    @property
    def spot_ws_url(self) -> str:
        """The spot stream base (Binance: wss://stream.binance.com:9443): append /ws/... or
        /stream?streams=..."""
        return f"{self.ws_url}/spot"

    @property
    def bybit_ws_url(self) -> str:
        """Bybit's public linear stream (Bybit: wss://stream.bybit.com/v5/public/linear)."""
        return f"{self.ws_url}/v5/public/linear"

    @property
    def bybit_rest(self) -> BybitRestApi:
        if self._bybit_servers is None:
            raise ValueError("no Bybit market (bybit_symbols)")
        return self._bybit_servers[1]

    @property
    def now(self) -> int:
        """Simulated time (ms): everything before it has been published."""
        source = self.feed if self.feed is not None else self.replay
        return source.now  # type: ignore[union-attr]

    async def advance(self, ms: int) -> None:
        """Step a paused simulator forward by ``ms`` of simulated time."""
        await self.pacer.advance(ms)

    def pause(self) -> None:
        self.pacer.pause()

    def resume(self) -> None:
        self.pacer.resume()

    def set_speed(self, speed: float) -> None:
        self.pacer.set_speed(speed)

    def set_rate(self, rate: float) -> None:
        if self.feed is not None:
            self.feed.set_rate(rate)

    def trade_to(self, symbol: str, price: str) -> int:
        """Trade ``symbol``'s market to ``price`` now (taking every level on the way), so resting
        orders and algo orders there fill or trigger. Returns the lots traded."""
        if self.feed is None or self.engine is None:
            raise ValueError("no market in replay mode")
        tick = ticks_of(self.feed.feeds[symbol].instrument, price)
        if tick is None:
            raise ValueError(f"{price} is not a multiple of {symbol}'s tick size")
        fills = self.feed.sweep_to(symbol, tick)
        self.engine.on_market()
        self.hub.flush()
        return sum(lots for _, lots, _ in fills)

    def set_quote_volume(self, symbol: str, quote_volume: str | None) -> None:
        """Make ticker/24hr report ``quote_volume`` for ``symbol`` (None: the traded volume)."""
        if self.feed is None or symbol not in self.feed.feeds:
            raise ValueError(f"unknown symbol {symbol}")
        if quote_volume is None:
            self.rest.quote_volumes.pop(symbol, None)
        else:
            self.rest.quote_volumes[symbol] = Decimal(quote_volume)

    def set_spot_status(self, symbol: str, status: str = "TRADING") -> None:
        """What spot's exchangeInfo says of ``symbol`` (``BREAK`` while it does not trade)."""
        if self.spot is None or symbol not in self.spot.feeds:
            raise ValueError(f"unknown spot symbol {symbol}")
        if status == "TRADING":
            self.spot.status.pop(symbol, None)
        else:
            self.spot.status[symbol] = status

    # ---- truth ---------------------------------------------------------------------------------

    def episodes(self) -> list[dict[str, Any]]:
        """Ground truth of the script's episodes that have started by now."""
        if self.feed is None:
            return []
        return self.script.truth(self.symbols, self.feed.start_ms, self.feed.now)

    def book(self, symbol: str, update_id: int | None = None) -> dict[str, Any]:
        """The simulator's book now, or (with ``record_truth``) right after ``update_id``."""
        if self.feed is None:
            raise ValueError("no market in replay mode")
        if update_id is not None:
            if self.truth is None:
                raise ValueError("book at an update id needs record_truth=True")
            return self.truth.book_at(symbol, update_id)
        market = self.feed.feeds[symbol].market
        return render_book(market.instrument, market.book, market.update_id)

    def spot_book(self, symbol: str, update_id: int | None = None) -> dict[str, Any]:
        """The simulator's spot book now, or (with ``record_truth``) right after ``update_id``."""
        if self.spot is None:
            raise ValueError("no spot market (spot_symbols)")
        if update_id is None:
            return self.spot.book(symbol)
        if self.spot_truth is None:
            raise ValueError("book at an update id needs record_truth=True")
        return self.spot_truth.book_at(symbol, update_id)

    def status(self) -> dict[str, Any]:
        return {
            "now": self.now,
            "symbols": self.symbols,
            "paused": self.pacer.paused,
            "speed": self.pacer.speed,
            "connections": len(self.hub.open),
            "frames": self.hub.frames,
            "rest_requests": self.rest.requests,
            "faults": self.faults.state(),
            "truth": self.truth.summary() if self.truth is not None else None,
            "spot_symbols": list(self.spot.feeds) if self.spot is not None else [],
            "spot_truth": self.spot_truth.summary() if self.spot_truth is not None else None,
            "bybit_symbols": list(self.bybit.feeds) if self.bybit is not None else [],
            "bybit_truth": self.bybit_truth.summary() if self.bybit_truth is not None else None,
            "replay_finished": self.replay.finished if self.replay is not None else None,
        }
