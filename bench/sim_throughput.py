"""How many messages/s the simulator pushes to one local client.

Starts ``python main.py sim`` as a separate process (so server and client each get a core), connects
one or more clients on 127.0.0.1, counts text frames for a bounded time or count, prints the rate,
and stops the simulator. Nothing leaves loopback.

    .venv/bin/python bench/sim_throughput.py                       # blast mode, aiohttp client
    .venv/bin/python bench/sim_throughput.py --mode market --rate 20000 --symbols 4
    .venv/bin/python bench/sim_throughput.py --client raw --seconds 5
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
import time
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parents[1]
SYMBOLS = ["BTCUSDT", "ETHUSDT", "BNBUSDT", "SOLUSDT", "XRPUSDT", "ADAUSDT", "DOGEUSDT", "LTCUSDT"]


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument(
        "--mode",
        choices=("blast", "market"),
        default="blast",
        help="blast: pre-serialised frames; market: the full simulated market at speed 0",
    )
    p.add_argument("--symbols", type=int, default=4)
    p.add_argument("--rate", type=float, default=20_000, help="market mode: book events/s/symbol")
    p.add_argument("--seconds", type=float, default=5.0, help="measure for at most this long")
    p.add_argument("--max-messages", type=int, default=3_000_000, help="stop after this many")
    p.add_argument("--client", choices=("aiohttp", "raw"), default="aiohttp")
    p.add_argument("--connections", type=int, default=1)
    return p.parse_args(argv)


async def start_simulator(args: argparse.Namespace) -> tuple[asyncio.subprocess.Process, str]:
    symbols = ",".join(SYMBOLS[: args.symbols])
    command = [
        sys.executable,
        "main.py",
        "sim",
        "--symbols",
        symbols,
        "--port",
        "0",
        "--speed",
        "0",
        "--rate",
        str(args.rate),
        "--log-level",
        "WARNING",
    ]
    if args.mode == "blast":
        command.append("--blast")
    process = await asyncio.create_subprocess_exec(
        *command, cwd=ROOT, stdout=asyncio.subprocess.PIPE
    )
    assert process.stdout is not None
    await asyncio.wait_for(process.stdout.readline(), 30)  # http URL
    ws_url = (await asyncio.wait_for(process.stdout.readline(), 5)).decode().strip()
    return process, ws_url


def stream_path(args: argparse.Namespace, route: str) -> str:
    names = []
    for symbol in SYMBOLS[: args.symbols]:
        low = symbol.lower()
        if route == "public":
            names += [f"{low}@depth@100ms", f"{low}@bookTicker"]
        else:
            names += [f"{low}@aggTrade"]
    return f"/{route}/stream?streams=" + "/".join(names)


class Counter:
    def __init__(self, limit: int) -> None:
        self.count = 0
        self.limit = limit
        self.done = asyncio.Event()

    def add(self, n: int) -> None:
        self.count += n
        if self.count >= self.limit:
            self.done.set()


async def aiohttp_client(url: str, counter: Counter) -> None:
    async with (
        aiohttp.ClientSession() as session,
        session.ws_connect(url, max_msg_size=0, compress=0) as ws,
    ):
        async for message in ws:
            if message.type != aiohttp.WSMsgType.TEXT:
                break
            counter.add(1)


class RawProtocol(asyncio.Protocol):
    """Counts WebSocket frames straight off the socket (server frames are unmasked)."""

    def __init__(self, counter: Counter) -> None:
        self.counter = counter
        self.buffer = b""
        self.upgraded = False

    def data_received(self, data: bytes) -> None:
        buffer = self.buffer + data
        if not self.upgraded:
            end = buffer.find(b"\r\n\r\n")
            if end < 0:
                self.buffer = buffer
                return
            self.upgraded, buffer = True, buffer[end + 4 :]
        i, n, frames = 0, len(buffer), 0
        while n - i >= 2:
            length = buffer[i + 1] & 0x7F
            head = 2
            if length == 126:
                if n - i < 4:
                    break
                length, head = int.from_bytes(buffer[i + 2 : i + 4], "big"), 4
            elif length == 127:
                if n - i < 10:
                    break
                length, head = int.from_bytes(buffer[i + 2 : i + 10], "big"), 10
            if n - i < head + length:
                break
            i += head + length
            frames += 1
        self.buffer = buffer[i:]
        self.counter.add(frames)


async def raw_client(url: str, counter: Counter) -> None:
    host_port, _, path = url.removeprefix("ws://").partition("/")
    host, port = host_port.split(":")
    loop = asyncio.get_running_loop()
    transport, _ = await loop.create_connection(lambda: RawProtocol(counter), host, int(port))
    transport.write(
        f"GET /{path} HTTP/1.1\r\nHost: {host_port}\r\nUpgrade: websocket\r\n"
        "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        "Sec-WebSocket-Version: 13\r\n\r\n".encode()
    )
    try:
        await asyncio.Event().wait()
    finally:
        transport.close()


async def measure(args: argparse.Namespace) -> float:
    process, ws_url = await start_simulator(args)
    counter = Counter(args.max_messages)
    client = aiohttp_client if args.client == "aiohttp" else raw_client
    tasks = []
    try:
        for i in range(args.connections):
            route = "public" if i % 2 == 0 else "market"
            tasks.append(asyncio.create_task(client(ws_url + stream_path(args, route), counter)))
        await asyncio.sleep(0.5)  # connect and warm up
        start_count, started = counter.count, time.perf_counter()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(counter.done.wait(), args.seconds)
        elapsed = time.perf_counter() - started
        received = counter.count - start_count
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        process.send_signal(signal.SIGTERM)
        await asyncio.wait_for(process.wait(), 20)
    rate = received / elapsed
    print(
        f"mode={args.mode} client={args.client} connections={args.connections} "
        f"symbols={args.symbols}: {received} messages in {elapsed:.2f}s = {rate:,.0f} msgs/s"
    )
    return rate


def main(argv: list[str]) -> int:
    asyncio.run(measure(parse_args(argv)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
