"""The backtest report: figures from closed trades and the equity curve, written as files.

`summarize` computes the figures; `write_report` writes `report.json`, `trades.csv`, `equity.png`
and a self-contained `report.html` (charts embedded) into a folder. With a `RunInfo` the page also
states the run's settings, says why a run has no trades, draws each symbol's price with the
trades and refused signals, marks equity to market at every bar close, lists the refused signals
with their reasons and gives each trade its R multiple, hold time, MAE and MFE.

The output is a pure function of the input: no timestamps, no PNG metadata, a fixed figure size
and dpi, so a deterministic backtest yields byte-identical reports that can be compared with `cmp`.

Definitions (quote currency unless marked %):
- a trade still open when the data ended (exit reason "end_of_data") was closed by the backtest,
  not by a rule: it counts in net PnL and equity but in none of the win/loss figures, which are
  over the trades a rule closed;
- a win is such a trade with pnl > 0, a loss one with pnl < 0 (a zero trade is neither);
  win rate = wins / trades closed by a rule (a fraction, 0..1);
- gross loss is reported as a positive amount; profit factor = gross profit / gross loss
  (None without losses); expectancy = net PnL / trades; average loss is negative;
- return % = final equity / initial equity − 1 (final equity: the curve's last point);
- max drawdown: the largest fall from a running peak, the peak starting at the initial equity;
  the absolute and the % figure are each the largest of their own kind (they may come from
  different falls);
- Sharpe: daily returns of the end-of-day (UTC) equity, the day before the first point closing at
  the initial equity and days without a point carrying the previous close forward (crypto trades
  every day, so idle days are real zero-return days); mean / sample stdev × √365, risk-free rate 0;
  None when the curve spans fewer than 2 days or the returns do not vary.
"""

from __future__ import annotations

import base64
import bisect
import csv
import html
import io
import itertools
import math
import statistics
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path

import orjson

from strategy.report_charts import END_OF_DATA, EquityCurve, PriceBars, equity_png, price_png, utc
from strategy.risk import Decision
from strategy.signals import Side, Signal
from strategy.trades import ClosedTrade

DAY_MS = 86_400_000
ANNUALISATION = math.sqrt(365)  # crypto markets trade every calendar day
REFUSED_ROWS = 500  # the page lists this many refused signals; the counts cover all


@dataclass(frozen=True)
class TradeStats:
    """Figures over a set of closed trades (all of them, or one strategy, quality or symbol)."""

    trades: int
    wins: int
    losses: int
    win_rate: float | None
    gross_profit: float
    gross_loss: float
    profit_factor: float | None
    net_pnl: float
    fees: float
    avg_win: float | None
    avg_loss: float | None
    expectancy: float | None
    open_at_end: int  # closed at the end of the data, not by a rule
    open_at_end_pnl: float


@dataclass(frozen=True)
class Summary(TradeStats):
    """The whole backtest: trade figures, equity-curve figures and the breakdowns."""

    initial_equity: float
    final_equity: float
    return_pct: float
    max_drawdown: float
    max_drawdown_pct: float
    sharpe: float | None
    by_strategy: dict[str, TradeStats]
    by_quality: dict[str, TradeStats]
    by_symbol: dict[str, TradeStats]


def summarize(trades: Sequence[ClosedTrade], equity: EquityCurve, initial_equity: float) -> Summary:
    """The report's figures. `equity` is (time_ms, equity) in time order."""
    final_equity = equity[-1][1] if equity else initial_equity
    max_dd, max_dd_pct = max_drawdown(equity, initial_equity)
    return Summary(
        **_as_fields(trade_stats(trades)),
        initial_equity=initial_equity,
        final_equity=final_equity,
        return_pct=(final_equity / initial_equity - 1.0) * 100.0,
        max_drawdown=max_dd,
        max_drawdown_pct=max_dd_pct,
        sharpe=sharpe(equity, initial_equity),
        by_strategy=breakdown(trades, lambda t: t.strategy),
        by_quality=breakdown(trades, lambda t: t.quality.value),
        by_symbol=breakdown(trades, lambda t: t.symbol),
    )


def trade_stats(trades: Iterable[ClosedTrade]) -> TradeStats:
    trades = list(trades)
    ended = [t.pnl for t in trades if t.exit_reason == END_OF_DATA]
    pnls = [t.pnl for t in trades if t.exit_reason != END_OF_DATA]
    won = [p for p in pnls if p > 0]
    lost = [p for p in pnls if p < 0]
    gross_profit, gross_loss = sum(won), -sum(lost)
    return TradeStats(
        trades=len(trades),
        wins=len(won),
        losses=len(lost),
        win_rate=len(won) / len(pnls) if pnls else None,
        gross_profit=gross_profit,
        gross_loss=gross_loss,
        profit_factor=gross_profit / gross_loss if lost else None,
        net_pnl=sum(pnls) + sum(ended),
        fees=sum(t.fees for t in trades),
        avg_win=gross_profit / len(won) if won else None,
        avg_loss=-gross_loss / len(lost) if lost else None,
        expectancy=sum(pnls) / len(pnls) if pnls else None,
        open_at_end=len(ended),
        open_at_end_pnl=sum(ended),
    )


def breakdown(
    trades: Sequence[ClosedTrade], key: Callable[[ClosedTrade], str]
) -> dict[str, TradeStats]:
    """Trade figures per key, keys sorted so the report's order never depends on trade order."""
    groups: dict[str, list[ClosedTrade]] = {}
    for trade in trades:
        groups.setdefault(key(trade), []).append(trade)
    return {name: trade_stats(groups[name]) for name in sorted(groups)}


def max_drawdown(equity: EquityCurve, initial_equity: float) -> tuple[float, float]:
    """(largest absolute fall from a running peak, largest fall in % of its peak)."""
    peak, worst, worst_pct = initial_equity, 0.0, 0.0
    for _, value in equity:
        peak = max(peak, value)
        worst = max(worst, peak - value)
        if peak > 0:
            worst_pct = max(worst_pct, (peak - value) / peak * 100.0)
    return worst, worst_pct


def daily_closes(equity: EquityCurve, initial_equity: float) -> list[float]:
    """The initial equity, then the last equity of each UTC day from the first to the last."""
    last_of_day: dict[int, float] = {}
    for time_ms, value in equity:
        last_of_day[time_ms // DAY_MS] = value
    closes = [initial_equity]
    if last_of_day:
        for day in range(min(last_of_day), max(last_of_day) + 1):
            closes.append(last_of_day.get(day, closes[-1]))
    return closes


def sharpe(equity: EquityCurve, initial_equity: float) -> float | None:
    closes = daily_closes(equity, initial_equity)
    if len(closes) < 3 or min(closes[:-1]) <= 0:  # fewer than 2 days, or returns undefined
        return None
    returns = [b / a - 1.0 for a, b in itertools.pairwise(closes)]
    spread = statistics.stdev(returns)
    if spread == 0:
        return None
    return statistics.fmean(returns) / spread * ANNUALISATION


def _as_fields(stats: TradeStats) -> dict[str, object]:
    return {f.name: getattr(stats, f.name) for f in fields(TradeStats)}


# --- a run's details --------------------------------------------------------------------------


@dataclass(frozen=True)
class RunInfo:
    """What the page states beside the figures. `settings`: (name, value) lines (config file,
    bar size, fees, slippage, ...); `notes`: why the run has no trades, if it has none; `bars`:
    per symbol (bar close time ms, high, low, close); `signals`: every signal with its decision."""

    start_ms: int
    end_ms: int
    bar_ms: int
    settings: Sequence[tuple[str, str]] = ()
    notes: Sequence[str] = ()
    bars: dict[str, PriceBars] = field(default_factory=dict)
    signals: Sequence[tuple[Signal, Decision]] = ()

    @property
    def span(self) -> tuple[int, int]:
        return self.start_ms, self.end_ms

    def plans(self) -> dict[object, Signal]:
        """The accepted signals by id: each trade's planned stop and targets."""
        return {s.signal_id: s for s, d in self.signals if d.accepted}

    def refused(self) -> list[tuple[Signal, Decision]]:
        return [(s, d) for s, d in self.signals if not d.accepted]


@dataclass(frozen=True)
class TradeDetail:
    r_multiple: float | None  # None: no stop known, or a zero distance to it
    hold_ms: int
    mae: float | None  # quote currency, ≤ 0; None: no bar while the trade was open
    mfe: float | None  # quote currency, ≥ 0


def trade_detail(
    trade: ClosedTrade, plan: Signal | None, bars: PriceBars, bar_ms: int
) -> TradeDetail:
    """`bars`: the symbol's (close time ms, high, low, close) in time order, `bar_ms` apart."""
    sign = 1.0 if trade.side == Side.LONG else -1.0
    risk = abs(trade.entry_price - plan.stop) * trade.qty if plan is not None else 0.0
    worst = best = None
    # the bars open at some moment of the trade: closing after the entry, opening before the exit
    first = bisect.bisect_right(bars, trade.entry_time_ms, key=lambda b: b[0])
    last = bisect.bisect_left(bars, trade.exit_time_ms + bar_ms, key=lambda b: b[0])
    for _, high, low, _ in bars[first:last]:
        moves = (sign * (high - trade.entry_price), sign * (low - trade.entry_price))
        worst = min(moves) if worst is None else min(worst, *moves)
        best = max(moves) if best is None else max(best, *moves)
    return TradeDetail(
        r_multiple=trade.pnl / risk if risk > 0 else None,
        hold_ms=trade.exit_time_ms - trade.entry_time_ms,
        mae=None if worst is None else min(worst, 0.0) * trade.qty,
        mfe=None if best is None else max(best, 0.0) * trade.qty,
    )


def marked_equity(
    trades: Sequence[ClosedTrade], bars: dict[str, PriceBars], initial_equity: float, start_ms: int
) -> list[tuple[int, float]]:
    """Equity at every bar close: closed trades' PnL plus open trades at that bar's close (fees
    and slippage of an exit count when it happens), and a point at every exit."""
    closes: dict[int, dict[str, float]] = {}
    for symbol, rows in bars.items():
        for close_ms, _, _, close in rows:
            closes.setdefault(close_ms, {})[symbol] = close
    moments = sorted(set(closes) | {t.exit_time_ms for t in trades})
    by_exit = sorted(trades, key=lambda t: t.exit_time_ms)
    last: dict[str, float] = {}
    realized, done, curve = initial_equity, 0, [(start_ms, initial_equity)]
    for moment in moments:
        last.update(closes.get(moment, {}))
        while done < len(by_exit) and by_exit[done].exit_time_ms <= moment:
            realized += by_exit[done].pnl
            done += 1
        open_pnl = sum(
            _open_pnl(t, last[t.symbol])
            for t in by_exit[done:]
            if t.entry_time_ms < moment and t.symbol in last
        )
        curve.append((moment, realized + open_pnl))
    return curve


def _open_pnl(trade: ClosedTrade, price: float) -> float:
    sign = 1.0 if trade.side == Side.LONG else -1.0
    return sign * (price - trade.entry_price) * trade.qty


# --- files ------------------------------------------------------------------------------------


def write_report(
    summary: Summary,
    trades: Sequence[ClosedTrade],
    equity: EquityCurve,
    out_dir: Path,
    title: str,
    run: RunInfo | None = None,
) -> Path:
    """Write the four report files into `out_dir` (created if missing); return the HTML's path."""
    out_dir.mkdir(parents=True, exist_ok=True)
    png = equity_png(equity, summary.initial_equity, title, run.span if run else None)
    (out_dir / "report.json").write_bytes(report_json(summary, title))
    (out_dir / "trades.csv").write_bytes(trades_csv(trades).encode())
    (out_dir / "equity.png").write_bytes(png)
    page = out_dir / "report.html"
    page.write_bytes(report_html(summary, trades, title, png, run).encode())
    return page


def report_json(summary: Summary, title: str) -> bytes:
    body = {"title": title, "summary": summary}
    return orjson.dumps(body, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS) + b"\n"


TRADE_COLUMNS = [f.name for f in fields(ClosedTrade)]


def trades_csv(trades: Iterable[ClosedTrade]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(TRADE_COLUMNS)
    for trade in trades:
        writer.writerow([_csv_cell(getattr(trade, name)) for name in TRADE_COLUMNS])
    return out.getvalue()


def _csv_cell(value: object) -> str:
    # repr keeps every digit of a float (str would too, but says so less plainly); enums by value
    if isinstance(value, float):
        return repr(value)
    return str(getattr(value, "value", value))


# --- html -------------------------------------------------------------------------------------

PAGE_STYLE = """
body { font-family: sans-serif; margin: 2em; color: #222; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: right; }
th:first-child, td:first-child { text-align: left; }
thead th { background: #f0f0f0; }
img { max-width: 100%; }
.note { background: #fff4d6; border-left: 4px solid #e0a800; padding: 0.6em 1em; }
"""

BREAKDOWN_COLUMNS = [
    "trades",
    "wins",
    "losses",
    "win rate",
    "net PnL",
    "profit factor",
    "expectancy",
]
TRADE_HEADINGS = [
    "signal",
    "symbol",
    "strategy",
    "side",
    "quality",
    "entry time (UTC)",
    "exit time (UTC)",
    "entry",
    "exit",
    "qty",
    "fees",
    "PnL",
    "R",
    "hold",
    "MAE",
    "MFE",
    "exit reason",
]
REFUSED_HEADINGS = [
    "time (UTC)",
    "symbol",
    "strategy",
    "side",
    "quality",
    "entry",
    "stop",
    "reason",
]


def report_html(
    summary: Summary,
    trades: Sequence[ClosedTrade],
    title: str,
    png: bytes,
    run: RunInfo | None = None,
) -> str:
    """One self-contained page (styles inline, the charts as data URIs); all text escaped."""
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{_esc(title)}</title><style>{PAGE_STYLE}</style></head><body>",
        f"<h1>{_esc(title)}</h1>",
    ]
    if run is not None:
        parts += _run_header(run)
    parts += [
        "<h2>Summary</h2>",
        _table(["figure", "value"], _summary_rows(summary)),
        _img("equity marked to market and drawdown", png),
    ]
    if run is not None:
        parts += _price_charts(trades, run)
    for heading, groups in [
        ("By strategy", summary.by_strategy),
        ("By quality", summary.by_quality),
        ("By symbol", summary.by_symbol),
    ]:
        parts.append(f"<h2>{_esc(heading)}</h2>")
        parts.append(_table(["", *BREAKDOWN_COLUMNS], _breakdown_rows(groups)))
    parts += _trade_tables(trades, run)
    if run is not None:
        parts += _refused_tables(run.refused())
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def _run_header(run: RunInfo) -> list[str]:
    parts = ["<h2>Run</h2>", _table(["setting", "value"], run.settings)]
    parts += [f'<p class="note">{_esc(note)}</p>' for note in run.notes]
    return parts


def _price_charts(trades: Sequence[ClosedTrade], run: RunInfo) -> list[str]:
    parts = ["<h2>Price, trades and refused signals</h2>"]
    plans, refused = run.plans(), run.refused()
    for symbol in sorted(set(run.bars) | {t.symbol for t in trades}):
        png = price_png(
            symbol,
            run.bars.get(symbol, ()),
            [t for t in trades if t.symbol == symbol],
            plans,
            [(s, d) for s, d in refused if s.symbol == symbol],
            run.span,
        )
        parts.append(_img(f"{symbol} price with entries, exits, stops and targets", png))
    return parts


def _trade_tables(trades: Sequence[ClosedTrade], run: RunInfo | None) -> list[str]:
    plans = run.plans() if run is not None else {}
    bars = run.bars if run is not None else {}
    bar_ms = run.bar_ms if run is not None else 0
    closed = [t for t in trades if t.exit_reason != END_OF_DATA]
    ended = [t for t in trades if t.exit_reason == END_OF_DATA]

    def rows(group: list[ClosedTrade]) -> list[list[str]]:
        return [
            _trade_row(t, trade_detail(t, plans.get(t.signal_id), bars.get(t.symbol, ()), bar_ms))
            for t in group
        ]

    parts = [f"<h2>Trades ({len(trades)})</h2>"]
    if ended:
        parts.append(f"<h3>Closed by a rule ({len(closed)})</h3>")
    parts.append(_table(TRADE_HEADINGS, rows(closed)))
    if ended:
        parts.append(f"<h3>Still open when the data ended ({len(ended)})</h3>")
        parts.append(
            "<p>Closed at the last price by the backtest, not by a stop, target or time rule: "
            "counted in net PnL and equity, not as wins or losses.</p>"
        )
        parts.append(_table(TRADE_HEADINGS, rows(ended)))
    return parts


def _refused_tables(refused: Sequence[tuple[Signal, Decision]]) -> list[str]:
    parts = [f"<h2>Refused signals ({len(refused)})</h2>"]
    if not refused:
        return parts
    counts: dict[str, int] = {}
    for _, decision in refused:
        counts[decision.reason] = counts.get(decision.reason, 0) + 1
    parts.append(_table(["reason", "signals"], [[r, str(counts[r])] for r in sorted(counts)]))
    if len(refused) > REFUSED_ROWS:
        parts.append(f"<p>The first {REFUSED_ROWS} of {len(refused)}:</p>")
    parts.append(_table(REFUSED_HEADINGS, [_refused_row(s, d) for s, d in refused[:REFUSED_ROWS]]))
    return parts


def _refused_row(signal: Signal, decision: Decision) -> list[str]:
    return [
        _when(signal.time_ms),
        signal.symbol,
        signal.strategy,
        signal.side.value,
        signal.quality.value,
        f"{signal.entry:.10g}",
        f"{signal.stop:.10g}",
        decision.reason,
    ]


def _img(alt: str, png: bytes) -> str:
    data = base64.b64encode(png).decode("ascii")
    return f'<img alt="{_esc(alt)}" src="data:image/png;base64,{data}">'


def _summary_rows(s: Summary) -> list[list[str]]:
    return [
        ["trades", str(s.trades)],
        ["still open at the end of the data", f"{s.open_at_end} (PnL {_money(s.open_at_end_pnl)})"],
        ["wins / losses (closed by a rule)", f"{s.wins} / {s.losses}"],
        ["win rate", _rate(s.win_rate)],
        ["gross profit", _money(s.gross_profit)],
        ["gross loss", _money(s.gross_loss)],
        ["profit factor", _ratio(s.profit_factor)],
        ["net PnL", _money(s.net_pnl)],
        ["fees", _money(s.fees)],
        ["initial equity", _money(s.initial_equity)],
        ["final equity", _money(s.final_equity)],
        ["return", f"{s.return_pct:.2f} %"],
        ["max drawdown", f"{_money(s.max_drawdown)} ({s.max_drawdown_pct:.2f} %)"],
        ["Sharpe (daily, ×√365)", _ratio(s.sharpe)],
        ["average win", _money(s.avg_win)],
        ["average loss", _money(s.avg_loss)],
        ["expectancy per trade", _money(s.expectancy)],
    ]


def _breakdown_rows(groups: dict[str, TradeStats]) -> list[list[str]]:
    return [
        [
            name,
            str(g.trades),
            str(g.wins),
            str(g.losses),
            _rate(g.win_rate),
            _money(g.net_pnl),
            _ratio(g.profit_factor),
            _money(g.expectancy),
        ]
        for name, g in groups.items()
    ]


def _trade_row(t: ClosedTrade, d: TradeDetail) -> list[str]:
    return [
        str(t.signal_id),
        t.symbol,
        t.strategy,
        t.side.value,
        t.quality.value,
        _when(t.entry_time_ms),
        _when(t.exit_time_ms),
        f"{t.entry_price:.10g}",
        f"{t.exit_price:.10g}",
        f"{t.qty:.10g}",
        _money(t.fees),
        _money(t.pnl),
        "—" if d.r_multiple is None else f"{d.r_multiple:+.2f}",
        _duration(d.hold_ms),
        _money(d.mae),
        _money(d.mfe),
        t.exit_reason,
    ]


def _table(headings: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    head = "".join(f"<th>{_esc(h)}</th>" for h in headings)
    body = "\n".join("<tr>" + "".join(f"<td>{_esc(c)}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>\n{body}\n</tbody></table>"


def _esc(text: str) -> str:
    return html.escape(text, quote=True)


def _money(value: float | None) -> str:
    return "—" if value is None else f"{value:,.2f}"


def _ratio(value: float | None) -> str:
    return "—" if value is None else f"{value:.3f}"


def _rate(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f} %"


def _duration(ms: int) -> str:
    seconds = ms // 1000
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"


def _when(time_ms: int) -> str:
    return utc(time_ms).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]
