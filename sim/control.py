"""The control API under ``/sim/...``: faults, clock and ground truth over HTTP.

For when the simulator runs as its own process (``python main.py sim``) and a test, the demo or a
benchmark needs to steer it. Requests and answers are JSON; nothing here is rate limited.

    GET  /sim/status
    GET  /sim/truth/episodes
    GET  /sim/truth/aggTrades?symbol=BTCUSDT[&fromId=&limit=]
    GET  /sim/truth/depth?symbol=BTCUSDT[&speed=250]
    GET  /sim/truth/book?symbol=BTCUSDT[&u=<final update id>]
    GET  /sim/truth/markPrices?symbol=  /sim/truth/forceOrders?symbol=
    GET  /sim/truth/openInterest?symbol=
         (aggTrades, depth and book take &market=spot for the spot market's truth)
    POST /sim/faults/drop             {"route": "public"|"market"|"legacy"|null, "abrupt": true}
    POST /sim/faults/skip_depth       {"symbol": "BTCUSDT", "count": 1}
    POST /sim/faults/silence          {"stream": "btcusdt@aggTrade", "seconds": null}
    POST /sim/faults/unsilence        {"stream": "btcusdt@aggTrade"}
    POST /sim/faults/malformed        {"count": 1, "stream": null}
    POST /sim/faults/unknown_fields   {"enabled": true, "fields": null}
    POST /sim/faults/rest             {"status": 429, "count": 1, "path": null, "retry_after": 5}
    POST /sim/faults/slow_rest        {"seconds": 2.0, "count": null}
    POST /sim/faults/max_age          {"seconds": 5}
    POST /sim/faults/after_accept     {"status": 502, "count": 1, "path": "/fapi/v1/order",
                                       "delay": 0}
    POST /sim/faults/reject_algo      {"count": 1, "code": -2021, "msg": "..."}
    POST /sim/faults/clock_skew       {"ms": 5000, "time_endpoint": true}
    POST /sim/faults/expire_listen_keys
    POST /sim/faults/clear
    POST /sim/trade_to                {"symbol": "BTCUSDT", "price": "65100.0"}
    POST /sim/quote_volume            {"symbol": "BTCUSDT", "quoteVolume": "1e9"}  (null: traded)
    POST /sim/clock                   {"speed": 10, "paused": false, "advance_ms": 0, "rate": 200}

Bybit (with ``--bybit-symbols``); faults.drop takes "route": "bybit" for its connections:

    GET  /sim/truth/bybit/trades?symbol=   /sim/truth/bybit/liquidations?symbol=
    GET  /sim/truth/bybit/book?symbol=BTCUSDT&depth=50     (what the topic last published, its u)
    POST /sim/bybit/skip_deltas       {"symbol": "BTCUSDT", "count": 1, "depth": null}
    POST /sim/bybit/restart           {"symbol": "BTCUSDT", "depth": null}     (u == 1 snapshots)
    POST /sim/bybit/ban               {"seconds": null}          (REST answers 403 to everyone)
    POST /sim/bybit/turnover          {"symbol": "BTCUSDT", "turnover24h": "1e9"}  (null: traded)
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import orjson
from aiohttp import web

from sim.bybit import BybitFeed, BybitTruth
from sim.rest import json_response
from sim.truth import Truth

if TYPE_CHECKING:
    from sim.server import Simulator

Handler = Callable[[web.Request], Awaitable[web.Response]]


class ControlApi:
    def __init__(self, simulator: Simulator) -> None:
        self.sim = simulator

    def routes(self) -> list[web.RouteDef]:
        faults = {
            "drop": self.drop,
            "skip_depth": self.skip_depth,
            "silence": self.silence,
            "unsilence": self.unsilence,
            "malformed": self.malformed,
            "unknown_fields": self.unknown_fields,
            "rest": self.rest,
            "slow_rest": self.slow_rest,
            "max_age": self.max_age,
            "after_accept": self.after_accept,
            "reject_algo": self.reject_algo,
            "clock_skew": self.clock_skew,
            "expire_listen_keys": lambda body: self.sim.faults.expire_listen_keys(),
            "clear": self.clear,
        }
        truth = {
            "aggTrades": self.agg_trades,
            "depth": self.depth,
            "book": self.book,
            "markPrices": self.per_symbol("mark_prices"),
            "forceOrders": self.per_symbol("force_orders"),
            "openInterest": self.per_symbol("open_interest"),
        }
        return [
            web.get("/sim/status", self._get(lambda r: self.sim.status())),
            web.get("/sim/truth/episodes", self._get(lambda r: self.sim.episodes())),
            *(
                web.get(f"/sim/truth/{name}", self._get(fn, truth=True))
                for name, fn in truth.items()
            ),
            *(web.post(f"/sim/faults/{name}", self._post(fn)) for name, fn in faults.items()),
            web.post("/sim/clock", self._post(self.clock)),
            *self._bybit_routes(),
            web.post(
                "/sim/quote_volume",
                self._post(lambda b: self.sim.set_quote_volume(b["symbol"], b.get("quoteVolume"))),
            ),
            web.post(
                "/sim/trade_to", self._post(lambda b: self.sim.trade_to(b["symbol"], b["price"]))
            ),
        ]

    def _bybit_routes(self) -> list[web.RouteDef]:
        def truth(field: str) -> Callable[[web.Request], Any]:
            return lambda r: getattr(self._bybit_truth(), field).get(r.query["symbol"], [])

        def book(r: web.Request) -> Any:
            return self._bybit().book(r.query["symbol"], int(r.query.get("depth", 50)))

        def turnover(body: dict[str, Any]) -> None:
            turnovers = self.sim.bybit_rest.turnovers
            if body.get("turnover24h") is None:
                turnovers.pop(body["symbol"], None)
            else:
                turnovers[body["symbol"]] = str(body["turnover24h"])

        posts: dict[str, Callable[[dict[str, Any]], Any]] = {
            "skip_deltas": lambda b: self._bybit().skip_deltas(
                b["symbol"], int(b.get("count", 1)), b.get("depth")
            ),
            "restart": lambda b: self._bybit().restart(b["symbol"], b.get("depth")),
            "ban": lambda b: self.sim.bybit_rest.limiter.ban(b.get("seconds")),
            "turnover": turnover,
        }
        gets = {"trades": truth("trades"), "liquidations": truth("liquidations"), "book": book}
        return [
            *(web.get(f"/sim/truth/bybit/{name}", self._get(fn)) for name, fn in gets.items()),
            *(web.post(f"/sim/bybit/{name}", self._post(fn)) for name, fn in posts.items()),
        ]

    def _bybit(self) -> BybitFeed:
        if self.sim.bybit is None:
            raise ValueError("no Bybit market (--bybit-symbols)")
        return self.sim.bybit

    def _bybit_truth(self) -> BybitTruth:
        if self.sim.bybit_truth is None:
            raise ValueError("no Bybit ground truth (--bybit-symbols with --record-truth)")
        return self.sim.bybit_truth

    # ---- plumbing ------------------------------------------------------------------------------

    def _get(self, fn: Callable[[web.Request], Any], truth: bool = False) -> Handler:
        async def handle(request: web.Request) -> web.Response:
            if truth and self.sim.truth is None:
                return json_response({"error": "ground truth is off (record_truth)"}, 404)
            try:
                return json_response(fn(request))
            except (KeyError, ValueError) as exc:
                return json_response({"error": str(exc)}, 400)

        return handle

    def _post(self, fn: Callable[[dict[str, Any]], Any]) -> Handler:
        async def handle(request: web.Request) -> web.Response:
            raw = await request.read()
            try:
                body = orjson.loads(raw) if raw else {}
                result = fn(body)
                if isinstance(result, Awaitable):
                    result = await result
            except (KeyError, ValueError, TypeError, RuntimeError, orjson.JSONDecodeError) as exc:
                return json_response({"error": str(exc)}, 400)
            return json_response({"ok": True, "result": result, "faults": self.sim.faults.state()})

        return handle

    # ---- truth ---------------------------------------------------------------------------------

    def _truth(self, request: web.Request) -> Truth:
        truth = self.sim.spot_truth if request.query.get("market") == "spot" else self.sim.truth
        if truth is None:
            raise ValueError("no ground truth for that market")
        return truth

    def agg_trades(self, request: web.Request) -> list[dict[str, Any]]:
        rows = self._truth(request).agg_trades[request.query["symbol"]]
        from_id = int(request.query.get("fromId", 0))
        limit = int(request.query.get("limit", 100_000))
        if from_id and rows:
            rows = rows[max(0, from_id - rows[0]["a"]) :]
        return rows[:limit]

    def depth(self, request: web.Request) -> list[dict[str, Any]]:
        key = (request.query["symbol"], int(request.query.get("speed", 250)))
        return self._truth(request).depth_events[key]

    def book(self, request: web.Request) -> dict[str, Any]:
        u = request.query.get("u")
        book = self.sim.spot_book if request.query.get("market") == "spot" else self.sim.book
        return book(request.query["symbol"], int(u) if u else None)

    def per_symbol(self, field: str) -> Callable[[web.Request], Any]:
        def read(request: web.Request) -> Any:
            return getattr(self.sim.truth, field)[request.query["symbol"]]

        return read

    # ---- faults and clock ----------------------------------------------------------------------

    def drop(self, body: dict[str, Any]) -> int:
        return self.sim.faults.drop_connections(body.get("route"), bool(body.get("abrupt", True)))

    def skip_depth(self, body: dict[str, Any]) -> None:
        self.sim.faults.skip_depth_ids(body["symbol"], int(body.get("count", 1)))

    def silence(self, body: dict[str, Any]) -> None:
        self.sim.faults.silence(body["stream"], body.get("seconds"))

    def unsilence(self, body: dict[str, Any]) -> None:
        self.sim.faults.unsilence(body["stream"])

    def malformed(self, body: dict[str, Any]) -> None:
        self.sim.faults.malformed_frames(int(body.get("count", 1)), body.get("stream"))

    def unknown_fields(self, body: dict[str, Any]) -> None:
        self.sim.faults.unknown_fields(bool(body.get("enabled", True)), body.get("fields"))

    def rest(self, body: dict[str, Any]) -> None:
        self.sim.faults.rest_error(
            int(body["status"]),
            int(body.get("count", 1)),
            body.get("path"),
            int(body.get("retry_after", 5)),
        )

    def slow_rest(self, body: dict[str, Any]) -> None:
        count = body.get("count")
        self.sim.faults.slow_rest(float(body["seconds"]), None if count is None else int(count))

    def max_age(self, body: dict[str, Any]) -> None:
        seconds = body.get("seconds")
        self.sim.faults.shorten_connection_age(None if seconds is None else float(seconds))

    def after_accept(self, body: dict[str, Any]) -> None:
        self.sim.faults.fail_after_accept(
            int(body.get("status", 502)),
            int(body.get("count", 1)),
            body.get("path", "/fapi/v1/order"),
            float(body.get("delay", 0.0)),
        )

    def reject_algo(self, body: dict[str, Any]) -> None:
        self.sim.faults.reject_algo(
            int(body.get("count", 1)),
            int(body.get("code", -2021)),
            body.get("msg", "Order would immediately trigger."),
        )

    def clock_skew(self, body: dict[str, Any]) -> None:
        self.sim.faults.skew_clock(int(body["ms"]), bool(body.get("time_endpoint", True)))

    def clear(self, body: dict[str, Any]) -> None:
        self.sim.faults.clear()

    async def clock(self, body: dict[str, Any]) -> dict[str, Any]:
        sim = self.sim
        if "rate" in body:
            sim.set_rate(float(body["rate"]))
        if "speed" in body:
            sim.set_speed(float(body["speed"]))
        if body.get("paused") is True:
            sim.pause()
        if body.get("advance_ms"):
            await sim.advance(int(body["advance_ms"]))
        if body.get("paused") is False:
            sim.resume()
        return {"now": sim.now, "paused": sim.pacer.paused, "speed": sim.pacer.speed}
