"""The backtest report's charts (matplotlib, Agg, PNG bytes without metadata).

Equity (marked to market at every bar close, drawn as steps) over its drawdown, and one price
chart per symbol with each trade's entry, exit, stop and first target and the refused signals.
With a fixed figure size and dpi and no metadata, the same input gives the same bytes.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import matplotlib.dates as mdates
import matplotlib.style
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from strategy.risk import Decision
from strategy.signals import Side, Signal
from strategy.trades import ClosedTrade

FIGURE_SIZE = (10.0, 6.0)  # inches; with DPI fixed, the PNG's pixel size never varies
PRICE_FIGURE_SIZE = (10.0, 4.5)
DPI = 100
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
END_OF_DATA = "end_of_data"

EquityCurve = Sequence[tuple[int, float]]
PriceBars = Sequence[tuple[int, float, float, float]]  # bar close time ms, high, low, close


def utc(time_ms: int) -> datetime:
    return EPOCH + timedelta(milliseconds=time_ms)  # exact, unlike fromtimestamp(ms / 1000)


def _png(figure: Figure) -> bytes:
    figure.tight_layout()
    out = io.BytesIO()
    # Agg's PNG writer adds only a "Software" text chunk (with the version): drop it
    figure.savefig(out, format="png", dpi=DPI, metadata={"Software": None})
    return out.getvalue()


def _time_axis(axes: Axes, span: tuple[int, int] | None) -> None:
    locator = mdates.AutoDateLocator()
    axes.xaxis.set_major_locator(locator)
    axes.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator, tz=UTC))
    if span is not None and span[1] > span[0]:  # the run's range, not matplotlib's default
        axes.set_xlim(utc(span[0]), utc(span[1]))


def equity_png(
    equity: EquityCurve, initial_equity: float, title: str, span: tuple[int, int] | None = None
) -> bytes:
    """Equity and drawdown % over time. `span`: the run's [start, end) in ms, the x range."""
    # "default" ignores any matplotlibrc on the machine, so the pixels depend on the input only
    with matplotlib.style.context("default"):
        figure = Figure(figsize=FIGURE_SIZE, dpi=DPI)
        FigureCanvasAgg(figure)
        top, bottom = figure.subplots(2, 1, sharex=True, height_ratios=[3, 1])
        _plot_curves(top, bottom, equity, initial_equity, span)
        top.set_title(title, parse_math=False)  # a "$" in a title is text, not TeX
        return _png(figure)


def _plot_curves(
    top: Axes,
    bottom: Axes,
    equity: EquityCurve,
    initial_equity: float,
    span: tuple[int, int] | None,
) -> None:
    top.set_ylabel("equity (marked to market)")
    bottom.set_ylabel("drawdown %")
    top.grid(True, alpha=0.3)
    bottom.grid(True, alpha=0.3)
    if len({t for t, _ in equity}) < 2:
        top.text(0.5, 0.5, "no trades: equity stayed at its start", ha="center", va="center",
                 transform=top.transAxes)  # fmt: skip
        if span is None:
            top.set_xticks([])
            bottom.set_xticks([])
            return
        _time_axis(bottom, span)
        return
    times = [utc(t) for t, _ in equity]
    values = [v for _, v in equity]
    peak, drawdowns = initial_equity, []
    for value in values:
        peak = max(peak, value)
        drawdowns.append(-(peak - value) / peak * 100.0 if peak > 0 else 0.0)
    # steps: equity holds its value until the next bar close or exit, it never glides between
    top.step(times, values, where="post", color="tab:blue", linewidth=1.2)
    top.axhline(initial_equity, color="grey", linewidth=0.8, linestyle="--")
    bottom.fill_between(times, drawdowns, 0.0, step="post", color="tab:red", alpha=0.4)
    _time_axis(bottom, span)


def price_png(
    symbol: str,
    bars: PriceBars,
    trades: Sequence[ClosedTrade],
    plans: dict[object, Signal],
    refused: Sequence[tuple[Signal, Decision]],
    span: tuple[int, int] | None = None,
) -> bytes:
    """The symbol's bar closes with its trades (entry ▲ long / ▼ short, exit ●, end-of-data
    exit ■, stop and first target from entry to exit) and refused signals (×)."""
    with matplotlib.style.context("default"):
        figure = Figure(figsize=PRICE_FIGURE_SIZE, dpi=DPI)
        FigureCanvasAgg(figure)
        axes = figure.subplots()
        axes.set_title(f"{symbol}: price and trades", parse_math=False)
        axes.set_ylabel("price")
        axes.grid(True, alpha=0.3)
        if bars:
            axes.plot([utc(b[0]) for b in bars], [b[3] for b in bars], color="0.35",
                      linewidth=0.8, label="bar close")  # fmt: skip
        else:
            axes.text(0.5, 0.5, "no bars in range", ha="center", va="center",
                      transform=axes.transAxes)  # fmt: skip
        for trade in trades:
            _plot_trade(axes, trade, plans.get(trade.signal_id))
        if refused:
            axes.scatter([utc(s.time_ms) for s, _ in refused], [s.entry for s, _ in refused],
                         marker="x", color="tab:orange", s=25, label="refused signal")  # fmt: skip
        _legend(axes)
        _time_axis(axes, span)
        return _png(figure)


def _plot_trade(axes: Axes, trade: ClosedTrade, plan: Signal | None) -> None:
    begin, end = utc(trade.entry_time_ms), utc(trade.exit_time_ms)
    long = trade.side == Side.LONG
    axes.scatter([begin], [trade.entry_price], marker="^" if long else "v", s=45, zorder=3,
                 color="tab:green" if long else "tab:red",
                 label="entry long" if long else "entry short")  # fmt: skip
    ended = trade.exit_reason == END_OF_DATA
    axes.scatter([end], [trade.exit_price], marker="s" if ended else "o", s=30, zorder=3,
                 color="tab:purple" if ended else "black",
                 label="exit at end of data" if ended else "exit")  # fmt: skip
    axes.plot([begin, end], [trade.entry_price, trade.exit_price], color="0.2", linewidth=0.6,
              linestyle=":")  # fmt: skip
    if plan is not None:
        axes.hlines(plan.stop, begin, end, colors="tab:red", linestyles="--", linewidth=1.0,
                    label="stop")  # fmt: skip
        if plan.targets:
            axes.hlines(plan.targets[0], begin, end, colors="tab:green", linestyles="--",
                        linewidth=1.0, label="target")  # fmt: skip


def _legend(axes: Axes) -> None:
    handles, labels = axes.get_legend_handles_labels()
    unique = dict(zip(labels, handles, strict=True))  # one entry per kind, first one wins
    if unique:
        axes.legend(unique.values(), unique.keys(), loc="best", fontsize="small")
