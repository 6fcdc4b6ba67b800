"""Flowline's one command line: ``python main.py <command> [options]``.

Commands:
  record     run the market-data recorder (the main 24/7 job)
  strategy   run the strategy worker against the recorded tables
  backtest   run strategies over recorded history
  sim        run the local Binance USD-M futures simulator
  demo       simulator + recorder (+ strategy) together, offline
  db         database tools: ``db init``, ``db status``
  archive    the Parquet archive tier: ``archive run``, ``archive list``, ``archive restore``
  status     short health check: age of each table's newest row, open holes, strategy workers
  flatten    kill switch: cancel all Flowline orders, close all Flowline positions on Binance

`python main.py <command> --help` lists a command's options and the environment variables it
reads (also from ./.env; every variable is documented in .env.example).
"""

from __future__ import annotations

import importlib
import sys
from typing import Any

import environment

# command -> module whose ``main(argv) -> int`` runs it; imported lazily so that one command's
# dependencies never slow down or break another.
COMMANDS = {
    "record": "collector.cli",
    "strategy": "strategy.cli",
    "backtest": "strategy.backtest_cli",
    "sim": "sim.cli",
    "demo": "demo",
    "db": "db.cli",
    "archive": "db.archive_cli",
    "status": "db.cli",
    "flatten": "strategy.binance.cli",
}


def main(argv: list[str]) -> int:
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(__doc__.strip())
        return 0
    command, rest = argv[0], argv[1:]
    module_name = COMMANDS.get(command)
    if module_name is None:
        print(f"unknown command {command!r}; try: python main.py --help", file=sys.stderr)
        return 2
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name == module_name:
            print(f"command {command!r} is not built yet", file=sys.stderr)
            return 2
        raise
    if command == "status":
        rest = ["health", *rest]
    if "-h" in rest or "--help" in rest:
        return _help(command, module, rest)
    return int(module.main(rest) or 0)


def _help(command: str, module: Any, rest: list[str]) -> int:
    """The command's own help (argparse exits after printing it), then its environment."""
    try:
        code = module.main(rest)
    except SystemExit as exc:
        code = exc.code
    print()
    print(environment.help_for(command))
    return int(code or 0)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
