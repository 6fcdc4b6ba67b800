"""Simulated futures accounts: API key pairs, wallet, one-way positions, orders and algo orders.

Quantities are integer lots and prices integer ticks of the symbol's instrument, as everywhere in
the simulator; money (wallet, PnL, commission, margin) is float USDT, except commission paid in
BNB with the fee discount on. Positions are one-way mode
(``positionSide`` BOTH): a fill either adds to the position (new volume-weighted entry price) or
reduces it (realized PnL against the entry price), possibly flipping it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from sim.instruments import Instrument

# The simulator's default key pair (64 alphanumerics each, like Binance's); configurable with
# ``Simulator(api_keys={key: secret})`` or ``--api-key KEY:SECRET``.
DEFAULT_API_KEY = "SimTestKey" + "0" * 54
DEFAULT_API_SECRET = "SimTestSecret" + "1" * 51
DEFAULT_WALLET = 10_000.0  # USDT
DEFAULT_LEVERAGE = 20
MAX_LEVERAGE = 125
TAKER_FEE = 0.0005
MAKER_FEE = 0.0002
# With the BNB fee discount on (POST /fapi/v1/feeBurn) commission is taken in BNB, 10 % off, while
# the futures wallet holds enough BNB (priced at BNBUSDT's mark: only when BNBUSDT is simulated).
BNB_FEE_DISCOUNT = 0.10
DEFAULT_BNB = 10.0
OPEN = frozenset({"NEW", "PARTIALLY_FILLED"})
ALGO_OPEN = frozenset({"NEW"})


@dataclass
class Order:
    """An order in the matching engine (``/fapi/v1/order``, or a triggered algo order)."""

    order_id: int
    client_id: str
    symbol: str
    side: str  # BUY | SELL
    type: str  # LIMIT | MARKET
    lots: int
    tick: int  # limit price; 0 for MARKET
    time: int
    tif: str = "GTC"
    reduce_only: bool = False
    close_position: bool = False
    orig_type: str = ""  # the algo order type for a triggered algo order
    stop_tick: int = 0
    working_type: str = "CONTRACT_PRICE"
    status: str = "NEW"
    filled: int = 0
    quote: float = 0.0  # sum of price × lots filled, for the average price
    update_time: int = 0

    @property
    def buys(self) -> bool:
        return self.side == "BUY"

    def avg_price(self) -> float:
        return self.quote / self.filled if self.filled else 0.0


@dataclass
class AlgoOrder:
    """A conditional order waiting in the Algo Service (``/fapi/v1/algoOrder``)."""

    algo_id: int
    client_id: str
    symbol: str
    side: str
    type: str  # STOP_MARKET | TAKE_PROFIT_MARKET
    lots: int  # 0 with closePosition
    trigger_tick: int
    time: int
    working_type: str = "CONTRACT_PRICE"
    close_position: bool = False
    reduce_only: bool = False
    price_protect: bool = False
    status: str = "NEW"
    update_time: int = 0
    trigger_time: int = 0
    actual_order_id: int = 0
    actual_price: float = 0.0

    def triggered_by(self, low: int, high: int) -> bool:
        """Whether prices between ``low`` and ``high`` (ticks) reach the trigger."""
        stop = self.type == "STOP_MARKET"
        rising = (self.side == "BUY") == stop  # STOP BUY / TP SELL fire on the way up
        return high >= self.trigger_tick if rising else low <= self.trigger_tick


@dataclass
class Position:
    lots: int = 0  # signed: > 0 long
    entry: float = 0.0
    realized: float = 0.0  # accumulated realized PnL (ACCOUNT_UPDATE "cr")
    update_time: int = 0

    def fill(self, lots: int, price: float, qty_of: float) -> float:
        """Apply a signed fill of ``lots`` at ``price``; ``qty_of`` = quantity of one lot.

        Returns the realized PnL of the part that reduced the position.
        """
        old = self.lots
        if old == 0 or (old > 0) == (lots > 0):
            total = abs(old) + abs(lots)
            self.entry = (abs(old) * self.entry + abs(lots) * price) / total
            self.lots = old + lots
            return 0.0
        closed = min(abs(lots), abs(old))
        pnl = closed * qty_of * (price - self.entry) * (1 if old > 0 else -1)
        self.realized += pnl
        self.lots = old + lots
        if self.lots == 0:
            self.entry = 0.0
        elif (self.lots > 0) != (old > 0):
            self.entry = price  # flipped: the rest opened at this fill's price
        return pnl


@dataclass
class Account:
    api_key: str
    secret: str
    wallet: float = DEFAULT_WALLET
    fee_burn: bool = False
    bnb: float = DEFAULT_BNB  # BNB in the futures wallet; pays commission while fee_burn is on
    leverage: dict[str, int] = field(default_factory=dict)
    margin_type: dict[str, str] = field(default_factory=dict)  # CROSSED | ISOLATED
    positions: dict[str, Position] = field(default_factory=dict)
    orders: dict[int, Order] = field(default_factory=dict)
    algos: dict[int, AlgoOrder] = field(default_factory=dict)
    order_times: list[float] = field(default_factory=list)  # wall times, for the order rate limit

    def position(self, symbol: str) -> Position:
        return self.positions.setdefault(symbol, Position())

    def leverage_of(self, symbol: str) -> int:
        return self.leverage.get(symbol, DEFAULT_LEVERAGE)

    def margin_type_of(self, symbol: str) -> str:
        return self.margin_type.get(symbol, "CROSSED")

    def open_orders(self, symbol: str | None = None) -> list[Order]:
        return [
            o
            for o in self.orders.values()
            if o.status in OPEN and (symbol is None or o.symbol == symbol)
        ]

    def open_algos(self, symbol: str | None = None) -> list[AlgoOrder]:
        return [
            a
            for a in self.algos.values()
            if a.status in ALGO_OPEN and (symbol is None or a.symbol == symbol)
        ]

    def find_order(self, order_id: int | None, client_id: str | None) -> Order | None:
        if order_id is not None:
            return self.orders.get(order_id)
        # the newest order with that client id (ids are only unique among open orders)
        matches = [o for o in self.orders.values() if o.client_id == client_id]
        return matches[-1] if matches else None

    def find_algo(self, algo_id: int | None, client_id: str | None) -> AlgoOrder | None:
        if algo_id is not None:
            return self.algos.get(algo_id)
        matches = [a for a in self.algos.values() if a.client_id == client_id]
        return matches[-1] if matches else None


def unrealized(position: Position, mark: float, qty_of: float) -> float:
    return position.lots * qty_of * (mark - position.entry)


def initial_margin(position: Position, mark: float, qty_of: float, leverage: int) -> float:
    return abs(position.lots) * qty_of * mark / leverage


def lots_of(inst: Instrument, text: str) -> int | None:
    """``"0.015"`` → lots, or None when it is not a whole number of steps."""
    return _whole(text, inst.step_size)


def ticks_of(inst: Instrument, text: str) -> int | None:
    """``"65000.1"`` → ticks, or None when it is not a whole number of ticks."""
    return _whole(text, inst.tick_size)


def _whole(text: str, unit: str) -> int | None:
    try:
        value = Decimal(text) / Decimal(unit)
    except InvalidOperation:
        return None
    return int(value) if value.is_finite() and value == value.to_integral_value() else None
