"""The backtest report: figures from closed trades and the equity curve, written as files.

`summarize` computes the figures; `write_report` writes `report.json`, `trades.csv`, `equity.png`
and a self-contained `report.html` into a folder. The output is a pure function of the input:
no timestamps, no PNG metadata, a fixed figure size and dpi, so a deterministic backtest yields
byte-identical reports that can be compared with `cmp`.

Definitions (quote currency unless marked %):
- a win is a trade with pnl > 0, a loss one with pnl < 0 (a zero trade is neither);
  win rate = wins / trades (a fraction, 0..1);
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
import csv
import html
import io
import itertools
import math
import statistics
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, fields
from datetime import UTC, datetime, timedelta
from pathlib import Path

import matplotlib.dates as mdates
import matplotlib.style
import orjson
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from strategy.trades import ClosedTrade

DAY_MS = 86_400_000
ANNUALISATION = math.sqrt(365)  # crypto markets trade every calendar day
FIGURE_SIZE = (10.0, 6.0)  # inches; with DPI fixed, the PNG's pixel size never varies
DPI = 100
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

EquityCurve = Sequence[tuple[int, float]]


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
    pnls = [t.pnl for t in trades]
    fees = sum(t.fees for t in trades)
    won = [p for p in pnls if p > 0]
    lost = [p for p in pnls if p < 0]
    gross_profit, gross_loss = sum(won), -sum(lost)
    return TradeStats(
        trades=len(pnls),
        wins=len(won),
        losses=len(lost),
        win_rate=len(won) / len(pnls) if pnls else None,
        gross_profit=gross_profit,
        gross_loss=gross_loss,
        profit_factor=gross_profit / gross_loss if lost else None,
        net_pnl=sum(pnls),
        fees=fees,
        avg_win=gross_profit / len(won) if won else None,
        avg_loss=-gross_loss / len(lost) if lost else None,
        expectancy=sum(pnls) / len(pnls) if pnls else None,
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


# --- files ------------------------------------------------------------------------------------


def write_report(
    summary: Summary,
    trades: Sequence[ClosedTrade],
    equity: EquityCurve,
    out_dir: Path,
    title: str,
) -> Path:
    """Write the four report files into `out_dir` (created if missing); return the HTML's path."""
    out_dir.mkdir(parents=True, exist_ok=True)
    png = equity_png(equity, summary.initial_equity, title)
    (out_dir / "report.json").write_bytes(report_json(summary, title))
    (out_dir / "trades.csv").write_bytes(trades_csv(trades).encode())
    (out_dir / "equity.png").write_bytes(png)
    page = out_dir / "report.html"
    page.write_bytes(report_html(summary, trades, title, png).encode())
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


def equity_png(equity: EquityCurve, initial_equity: float, title: str) -> bytes:
    """Equity and drawdown % over time, as PNG bytes without metadata."""
    # "default" ignores any matplotlibrc on the machine, so the pixels depend on the input only
    with matplotlib.style.context("default"):
        figure = Figure(figsize=FIGURE_SIZE, dpi=DPI)
        FigureCanvasAgg(figure)
        top, bottom = figure.subplots(2, 1, sharex=True, height_ratios=[3, 1])
        _plot_curves(top, bottom, equity, initial_equity)
        top.set_title(title, parse_math=False)  # a "$" in a title is text, not TeX
        figure.tight_layout()
        out = io.BytesIO()
        # Agg's PNG writer adds only a "Software" text chunk (with the version): drop it
        figure.savefig(out, format="png", dpi=DPI, metadata={"Software": None})
    return out.getvalue()


def _plot_curves(top: Axes, bottom: Axes, equity: EquityCurve, initial_equity: float) -> None:
    top.set_ylabel("equity")
    bottom.set_ylabel("drawdown %")
    top.grid(True, alpha=0.3)
    bottom.grid(True, alpha=0.3)
    if not equity:
        top.text(0.5, 0.5, "no equity data", ha="center", va="center", transform=top.transAxes)
        return
    times = [_utc(t) for t, _ in equity]
    values = [v for _, v in equity]
    peak, drawdowns = initial_equity, []
    for value in values:
        peak = max(peak, value)
        drawdowns.append(-(peak - value) / peak * 100.0 if peak > 0 else 0.0)
    top.plot(times, values, color="tab:blue", linewidth=1.2)
    top.axhline(initial_equity, color="grey", linewidth=0.8, linestyle="--")
    bottom.fill_between(times, drawdowns, 0.0, color="tab:red", alpha=0.4)
    locator = mdates.AutoDateLocator()
    bottom.xaxis.set_major_locator(locator)
    bottom.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator, tz=UTC))


def _utc(time_ms: int) -> datetime:
    return EPOCH + timedelta(milliseconds=time_ms)  # exact, unlike fromtimestamp(ms / 1000)


# --- html -------------------------------------------------------------------------------------

PAGE_STYLE = """
body { font-family: sans-serif; margin: 2em; color: #222; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: right; }
th:first-child, td:first-child { text-align: left; }
thead th { background: #f0f0f0; }
img { max-width: 100%; }
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
    "exit reason",
]


def report_html(summary: Summary, trades: Sequence[ClosedTrade], title: str, png: bytes) -> str:
    """One self-contained page (styles inline, the chart as a data URI); all text escaped."""
    chart = base64.b64encode(png).decode("ascii")
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{_esc(title)}</title><style>{PAGE_STYLE}</style></head><body>",
        f"<h1>{_esc(title)}</h1>",
        "<h2>Summary</h2>",
        _table(["figure", "value"], _summary_rows(summary)),
        f'<img alt="equity curve and drawdown" src="data:image/png;base64,{chart}">',
    ]
    for heading, groups in [
        ("By strategy", summary.by_strategy),
        ("By quality", summary.by_quality),
        ("By symbol", summary.by_symbol),
    ]:
        parts.append(f"<h2>{_esc(heading)}</h2>")
        parts.append(_table(["", *BREAKDOWN_COLUMNS], _breakdown_rows(groups)))
    parts.append(f"<h2>Trades ({len(trades)})</h2>")
    parts.append(_table(TRADE_HEADINGS, [_trade_row(t) for t in trades]))
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def _summary_rows(s: Summary) -> list[list[str]]:
    return [
        ["trades", str(s.trades)],
        ["wins / losses", f"{s.wins} / {s.losses}"],
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


def _trade_row(t: ClosedTrade) -> list[str]:
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


def _when(time_ms: int) -> str:
    return _utc(time_ms).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]
