"""Footprint diagonal imbalance and stacked imbalance zones.

Vendors agree that a BUY imbalance at row p compares Ask(p) (aggressor buy volume at p)
with Bid(p − 1 row) (aggressor sell volume one row below), and a SELL imbalance at p
compares Bid(p) with Ask(p + 1 row). They disagree on the operator, on zero opposing
volume and on which cell the minimum-volume filter applies to, so those are explicit
parameters here. [PROPOSAL] (reference §8.2):

    buy_imb(p)  ⇔ Ask(p) op R·Bid(p − row) ∧ Ask(p) ≥ Vmin     ratio = Ask(p)/Bid(p − row)
    sell_imb(p) ⇔ Bid(p) op R·Ask(p + row) ∧ Bid(p) ≥ Vmin     ratio = Bid(p)/Ask(p + row)

op is ">=" (default) or ">" (ATAS StackedImbalance parity). A zero opposing cell gives
an imbalance with ratio ∞ in zero_mode "infinite" (ATAS stacked default) and none in
"ignore" (ATAS ImbalanceRatio); the dominant cell must be > 0 in any case. Only rows
inside the bar's traded range are evaluated and the top/bottom rows lack the neighbour
for one of the tests; untraded rows inside the range count as zero volume. Stacked: at
least `stacked_rows` consecutive rows (by price, not ATAS's "adjacent traded levels"
quirk) with a same-side imbalance, reported as a [low, high] zone.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

from indicators.bars import Footprint

BUY, SELL = 1, -1


@dataclass(frozen=True, slots=True)
class FootprintImbalanceConfig:
    """[PROPOSAL] min_volume has no default on purpose: it is per symbol and in the
    footprint's volume unit. ratio 3.0 = 300%."""

    min_volume: float
    ratio: float = 3.0
    operator: str = ">="
    zero_mode: str = "infinite"
    stacked_rows: int = 3

    def __post_init__(self) -> None:
        if self.operator not in (">=", ">"):
            raise ValueError("operator must be '>=' or '>'")
        if self.zero_mode not in ("infinite", "ignore"):
            raise ValueError("zero_mode must be 'infinite' or 'ignore'")
        if self.ratio <= 0 or self.stacked_rows < 1:
            raise ValueError("ratio must be > 0 and stacked_rows >= 1")


class Imbalance(NamedTuple):
    side: int  # BUY (+1) or SELL (−1)
    row: int
    price: float  # low price of the row
    ratio: float  # math.inf when the opposing cell is empty
    volume: float  # the dominant cell


class StackedZone(NamedTuple):
    side: int
    low_row: int
    high_row: int
    low_price: float
    high_price: float

    @property
    def rows(self) -> int:
        return self.high_row - self.low_row + 1


class FootprintSignal(NamedTuple):
    buy: tuple[Imbalance, ...]
    sell: tuple[Imbalance, ...]
    buy_zones: tuple[StackedZone, ...]
    sell_zones: tuple[StackedZone, ...]


def _passes(dominant: float, opposing: float, cfg: FootprintImbalanceConfig) -> float | None:
    """The ratio if the pair is an imbalance, else None."""
    if dominant <= 0 or dominant < cfg.min_volume:
        return None
    if opposing == 0:
        return math.inf if cfg.zero_mode == "infinite" else None
    bar = cfg.ratio * opposing  # compare products: 9 vs 3·3 must be exact, not 9/3 vs 3
    ok = dominant >= bar if cfg.operator == ">=" else dominant > bar
    return dominant / opposing if ok else None


def diagonal_imbalances(
    fp: Footprint, cfg: FootprintImbalanceConfig
) -> tuple[tuple[Imbalance, ...], tuple[Imbalance, ...]]:
    """(buy imbalances, sell imbalances) of one footprint, each ordered by row."""
    rows = fp.rows
    if not rows:
        return (), ()
    lo, hi = min(rows), max(rows)
    empty = (0.0, 0.0)
    buys, sells = [], []
    for r in range(lo, hi + 1):
        ask, bid = rows.get(r, empty)
        if r > lo:
            ratio = _passes(ask, rows.get(r - 1, empty)[1], cfg)
            if ratio is not None:
                buys.append(Imbalance(BUY, r, fp.row_price(r), ratio, ask))
        if r < hi:
            ratio = _passes(bid, rows.get(r + 1, empty)[0], cfg)
            if ratio is not None:
                sells.append(Imbalance(SELL, r, fp.row_price(r), ratio, bid))
    return tuple(buys), tuple(sells)


def stacked_zones(
    imbalances: tuple[Imbalance, ...], min_rows: int, fp: Footprint
) -> tuple[StackedZone, ...]:
    """Runs of ≥ min_rows consecutive rows among same-side `imbalances` (row-ordered)."""
    zones = []
    run: list[Imbalance] = []
    for imb in (*imbalances, None):
        if imb is not None and run and imb.row == run[-1].row + 1:
            run.append(imb)
            continue
        if len(run) >= min_rows:
            lo, hi = run[0].row, run[-1].row
            zones.append(StackedZone(run[0].side, lo, hi, fp.row_price(lo), fp.row_price(hi)))
        run = [imb] if imb is not None else []
    return tuple(zones)


class FootprintImbalance:
    """Diagonal and stacked imbalances of each bar's footprint. `value` is the
    `FootprintSignal` of the latest bar (None before the first)."""

    __slots__ = ("config", "value")

    def __init__(self, config: FootprintImbalanceConfig) -> None:
        self.config = config
        self.value: FootprintSignal | None = None

    def reset(self) -> None:
        self.value = None

    @property
    def ready(self) -> bool:
        return self.value is not None

    def update(self, fp: Footprint) -> FootprintSignal:
        buys, sells = diagonal_imbalances(fp, self.config)
        n = self.config.stacked_rows
        self.value = FootprintSignal(
            buys, sells, stacked_zones(buys, n, fp), stacked_zones(sells, n, fp)
        )
        return self.value
