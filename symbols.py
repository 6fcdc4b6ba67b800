"""The one pattern every symbol must match, from settings or from an exchange.

A symbol ends up in stream URLs, log lines, file names and table rows: a ``?`` or ``#`` would cut
a combined-stream URL (the symbols after it never subscribed), a newline would forge log lines.
Settings with a bad symbol stop start-up (SettingsError names the variable); names an exchange
sends are dropped, counted in ``flowline_symbols_rejected_total`` and logged escaped.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable

from prometheus_client import Counter

from logsafe import printable

log = logging.getLogger(__name__)

# Binance's USD-M and spot symbols: upper-case letters and digits (BTCUSDT, 1000PEPEUSDT), and
# an underscore in delivery contracts (BTCUSDT_260327).
SYMBOL = re.compile(r"[A-Z0-9][A-Z0-9_]{1,29}")
REJECTED = Counter(
    "flowline_symbols_rejected_total",
    "Symbols from an exchange dropped for not matching the symbol pattern",
    ["source"],
)


def is_symbol(name: object) -> bool:
    return isinstance(name, str) and SYMBOL.fullmatch(name) is not None


def bad_symbols(names: Iterable[str]) -> list[str]:
    """The names that are not symbols (for settings: the caller refuses them)."""
    return [n for n in names if not is_symbol(n)]


def keep_symbols(names: Iterable[object], source: str) -> list[str]:
    """The names that are symbols; each other one is counted and logged, escaped, once here."""
    kept: list[str] = []
    for name in names:
        if is_symbol(name):
            kept.append(name)  # type: ignore[arg-type]
            continue
        REJECTED.labels(source).inc()
        log.warning("%s: dropped a symbol that is not [A-Z0-9_]: %s", source, printable(str(name)))
    return kept
