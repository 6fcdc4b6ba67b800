"""``python main.py sim``: run the simulator until SIGINT/SIGTERM.

Prints the two base URLs on stdout, one per line, as soon as it listens::

    http://127.0.0.1:PORT
    ws://127.0.0.1:PORT
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
from collections.abc import Mapping
from pathlib import Path

from sim.server import Simulator

log = logging.getLogger(__name__)


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python main.py sim", description="Local Binance USDⓈ-M futures simulator."
    )
    p.add_argument("--symbols", default="BTCUSDT,ETHUSDT", help="comma-separated symbols")
    p.add_argument(
        "--spot-symbols",
        default="",
        help="comma-separated symbols that also trade on spot (streams at <ws>/spot, REST /api/v3)",
    )
    p.add_argument("--spot-weight-limit", type=int, default=6000, help="spot REST weight/window")
    p.add_argument(
        "--bybit-symbols",
        default="",
        help="comma-separated symbols that also trade on Bybit v5 linear "
        "(<ws>/v5/public/linear, REST /v5/market)",
    )
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0, help="0: any free port")
    p.add_argument("--script", help="episode timeline (.json or .toml), e.g. sim/scripts/demo.json")
    p.add_argument("--speed", type=float, default=1.0, help="simulated s per wall s; 0 = blast")
    p.add_argument("--rate", type=float, default=100.0, help="book events/s per symbol")
    p.add_argument("--start-ms", type=int, help="simulated epoch ms at start (default: now)")
    p.add_argument("--step-ms", type=int, default=50, choices=(1, 2, 5, 10, 25, 50))
    p.add_argument("--ping-interval", type=float, default=180.0, help="seconds between pings")
    p.add_argument("--pong-timeout", type=float, default=600.0)
    p.add_argument("--max-connection-age", type=float, default=86_400.0, help="seconds")
    p.add_argument("--incoming-limit", type=int, default=10, help="client messages/s allowed")
    p.add_argument("--weight-limit", type=int, default=2400, help="REST weight per window")
    p.add_argument("--weight-window", type=float, default=60.0, help="seconds")
    p.add_argument("--ban-after", type=int, default=3, help="429s in a window before a 418 ban")
    p.add_argument("--ban-seconds", type=float, default=120.0)
    p.add_argument("--record-truth", action="store_true", help="keep ground truth (memory grows)")
    p.add_argument("--replay", help="serve a capture file (lines: '<ms> <frame>') instead")
    p.add_argument(
        "--blast",
        action="store_true",
        help="pre-serialised aggTrade/depth@100ms/bookTicker frames (--rate = frames/s/stream)",
    )
    p.add_argument(
        "--api-keys-file",
        metavar="PATH",
        help="accounts' API key pairs, one KEY:SECRET a line (default: $SIM_API_KEYS, a comma "
        "list of KEY:SECRET, else the built-in test pair); never on the command line, where "
        "`ps` shows them",
    )
    p.add_argument("--api-key", action="append", help=argparse.SUPPRESS)  # gone: see api_keys()
    p.add_argument("--listen-key-ttl", type=float, default=3600.0, help="listen key life, s")
    p.add_argument("--wallet", type=float, default=10_000.0, help="USDT per account")
    p.add_argument("--log-level", default="INFO")
    return p.parse_args(argv)


def build(args: argparse.Namespace) -> Simulator:
    return Simulator(
        [s.strip().upper() for s in args.symbols.split(",") if s.strip()],
        seed=args.seed,
        spot_symbols=[s.strip().upper() for s in args.spot_symbols.split(",") if s.strip()],
        spot_weight_limit=args.spot_weight_limit,
        bybit_symbols=[s.strip().upper() for s in args.bybit_symbols.split(",") if s.strip()],
        script=args.script,
        start_ms=args.start_ms,
        speed=args.speed,
        rate=args.rate,
        step_ms=args.step_ms,
        record_truth=args.record_truth,
        ping_interval=args.ping_interval,
        pong_timeout=args.pong_timeout,
        max_connection_age=args.max_connection_age,
        incoming_limit=args.incoming_limit,
        weight_limit=args.weight_limit,
        weight_window=args.weight_window,
        ban_after=args.ban_after,
        ban_seconds=args.ban_seconds,
        replay=args.replay,
        blast=args.blast,
        api_keys=api_keys(args, os.environ),
        listen_key_ttl=args.listen_key_ttl,
        wallet=args.wallet,
    )


def api_keys(args: argparse.Namespace, env: Mapping[str, str]) -> dict[str, str] | None:
    """From --api-keys-file, else SIM_API_KEYS; None: the built-in test pair."""
    if args.api_key:
        raise SystemExit(
            "--api-key is gone (the secret showed in `ps`): put KEY:SECRET pairs in a file "
            "(--api-keys-file) or in SIM_API_KEYS=KEY:SECRET,..."
        )
    if args.api_keys_file:
        try:
            text = Path(args.api_keys_file).read_text()
        except OSError as exc:
            where = args.api_keys_file
            raise SystemExit(f"--api-keys-file: cannot read {where}: {exc.strerror}") from None
        pairs = [line.strip() for line in text.splitlines()]
        source = "--api-keys-file"
    else:
        pairs = [p.strip() for p in env.get("SIM_API_KEYS", "").split(",")]
        source = "SIM_API_KEYS"
    keys = {}
    for pair in pairs:
        if not pair or pair.startswith("#"):
            continue
        key, sep, secret = pair.partition(":")
        if not sep or not key or not secret:
            raise SystemExit(f"{source} wants KEY:SECRET pairs, got {pair[:4]}…")
        keys[key] = secret
    return keys or None


async def serve(args: argparse.Namespace) -> None:
    sim = build(args)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await sim.start(args.host, args.port)
    try:
        sys.stdout.write(f"{sim.http_url}\n{sim.ws_url}\n")
        sys.stdout.flush()
        await stop.wait()
        log.info("stopping simulator")
    finally:
        await sim.stop()


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(),
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        import uvloop
    except ImportError:  # optional: the simulator runs on the default loop too
        asyncio.run(serve(args))
    else:
        uvloop.run(serve(args))
    return 0
