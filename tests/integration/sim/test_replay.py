"""Replay: frames captured from one simulator are served again, identically, by another."""

from __future__ import annotations

from pathlib import Path

import aiohttp
import orjson

from sim.server import Simulator
from tests.sim_fixtures import drain_text, make_simulator


async def test_captured_frames_replay_identically(
    tmp_path: Path, http: aiohttp.ClientSession
) -> None:
    streams = "btcusdt@aggTrade/btcusdt@depth@100ms"
    async with make_simulator() as source:
        url = f"{source.ws_url}/public/stream?streams={streams}"
        async with (
            http.ws_connect(url) as public,
            http.ws_connect(url.replace("/public/", "/market/")) as market,
        ):
            await source.advance(3_000)
            captured = [
                orjson.loads(f) for f in await drain_text(public) + await drain_text(market)
            ]
    assert len(captured) > 30
    capture = tmp_path / "capture.txt"
    lines = [f"{m['data']['E']} {orjson.dumps(m).decode()}" for m in captured]
    capture.write_text("\n".join(lines) + "\n")

    replay = Simulator(replay=capture, paused=True)
    await replay.start()
    try:
        assert replay.symbols == ["BTCUSDT"]
        async with (
            http.ws_connect(f"{replay.ws_url}/public/stream?streams={streams}") as public,
            http.ws_connect(f"{replay.ws_url}/market/stream?streams={streams}") as market,
        ):
            await replay.advance(4_000)
            replayed = [
                orjson.loads(f) for f in await drain_text(public) + await drain_text(market)
            ]
        assert replay.replay is not None and replay.replay.finished
    finally:
        await replay.stop()
    key = lambda m: (m["data"]["E"], m["stream"], m["data"].get("a", 0))  # noqa: E731
    assert sorted(replayed, key=key) == sorted(captured, key=key)


async def test_accelerated_replay_runs_on_its_own(
    tmp_path: Path, http: aiohttp.ClientSession
) -> None:
    capture = tmp_path / "capture.txt"
    frames = [
        f'{1000 + i * 100} {{"stream":"btcusdt@aggTrade","data":{{"e":"aggTrade","a":{i}}}}}'
        for i in range(20)
    ]
    capture.write_text("\n".join(frames))
    async with (
        Simulator(replay=capture, speed=5.0) as sim,
        http.ws_connect(f"{sim.ws_url}/market/ws/btcusdt@aggTrade") as ws,
    ):
        received = [orjson.loads(f)["a"] for f in await drain_text(ws, idle=0.5)]
    # 2 s of capture at 5× = 0.4 s: what arrived after we subscribed is in order, none lost
    assert received == sorted(received) and received[-1] == 19
