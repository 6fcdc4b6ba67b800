"""``python main.py sim`` as a separate process: prints its URLs, serves, stops on SIGTERM."""

from __future__ import annotations

import asyncio
import signal
import sys
from pathlib import Path

import aiohttp
import orjson

ROOT = Path(__file__).resolve().parents[3]


async def test_cli_prints_urls_serves_and_stops(http: aiohttp.ClientSession) -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "main.py",
        "sim",
        "--symbols",
        "BTCUSDT,ETHUSDT",
        "--seed",
        "1",
        "--port",
        "0",
        "--script",
        "sim/scripts/demo.json",
        "--speed",
        "5",
        "--bybit-symbols",
        "BTCUSDT",
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        assert process.stdout is not None
        http_url = (await asyncio.wait_for(process.stdout.readline(), 20)).decode().strip()
        ws_url = (await asyncio.wait_for(process.stdout.readline(), 5)).decode().strip()
        assert http_url.startswith("http://127.0.0.1:")
        assert ws_url == http_url.replace("http://", "ws://")
        async with http.get(f"{http_url}/fapi/v1/ping") as response:
            assert response.status == 200 and await response.json() == {}
        async with http.ws_connect(f"{ws_url}/market/ws/btcusdt@aggTrade") as ws:
            message = await ws.receive(timeout=10)
            assert orjson.loads(message.data)["e"] == "aggTrade"
        async with http.ws_connect(f"{ws_url}/v5/public/linear") as ws:
            await ws.send_str('{"op":"subscribe","args":["publicTrade.BTCUSDT"]}')
            assert orjson.loads((await ws.receive(timeout=10)).data)["success"] is True
            message = await ws.receive(timeout=10)
            assert orjson.loads(message.data)["topic"] == "publicTrade.BTCUSDT"
    finally:
        process.send_signal(signal.SIGTERM)
        _, stderr = await asyncio.wait_for(process.communicate(), 20)
    assert process.returncode == 0, stderr.decode()[-2000:]
