"""The backtest report: figures checked against hand-computed values, and the files it writes."""

from __future__ import annotations

import csv
import math
import shutil
import struct
import subprocess
import sys
import uuid
from dataclasses import replace
from pathlib import Path

import orjson
import pytest
from PIL import Image, ImageStat

from strategy.report import DAY_MS, RunInfo, marked_equity, summarize, trade_detail, write_report
from strategy.risk import Decision
from strategy.signals import Quality, Side, Signal
from strategy.trades import ClosedTrade

T0 = 1_790_000_000_000 // DAY_MS * DAY_MS  # a UTC midnight
HOUR_MS = 3_600_000
REPORT_FILES = ["report.json", "trades.csv", "equity.png", "report.html"]


def trade(pnl: float, n: int = 0, **changes: object) -> ClosedTrade:
    base = ClosedTrade(
        signal_id=uuid.uuid5(uuid.NAMESPACE_URL, f"trade-{n}"),
        symbol="BTCUSDT",
        strategy="composite",
        side=Side.LONG,
        quality=Quality.HIGH,
        entry_time_ms=T0 + n * HOUR_MS,
        exit_time_ms=T0 + n * HOUR_MS + 600_000,
        entry_price=97_000.5 + n,
        exit_price=97_010.1 + n,
        qty=0.003,
        fees=0.25,
        pnl=pnl,
        exit_reason="target" if pnl > 0 else "stop",
    )
    return replace(base, **changes)


def curve_of(trades: list[ClosedTrade], initial: float) -> list[tuple[int, float]]:
    equity, points = initial, []
    for t in trades:
        equity += t.pnl
        points.append((t.exit_time_ms, equity))
    return points


def test_trade_figures_hand_computed():
    # +30 −10 +20 −5 0: the zero trade counts as a trade but neither a win nor a loss
    trades = [trade(p, n) for n, p in enumerate([30.0, -10.0, 20.0, -5.0, 0.0])]
    s = summarize(trades, curve_of(trades, 1000.0), 1000.0)
    assert (s.trades, s.wins, s.losses) == (5, 2, 2)
    assert s.win_rate == pytest.approx(0.4)
    assert (s.gross_profit, s.gross_loss) == (50.0, 15.0)
    assert s.profit_factor == pytest.approx(50.0 / 15.0)
    assert s.net_pnl == 35.0
    assert s.fees == pytest.approx(1.25)
    assert (s.avg_win, s.avg_loss) == (25.0, -7.5)
    assert s.expectancy == pytest.approx(7.0)  # = 0.4·25 + 0.4·(−7.5)
    assert s.final_equity == 1035.0
    assert s.return_pct == pytest.approx(3.5)


def test_max_drawdown_absolute_and_percent_come_from_their_own_worst_falls():
    # 100 → 110 → 88: fall 22 = 20 % of 110; → 200 → 170: fall 30 = 15 % of 200
    equity = [(T0 + i, v) for i, v in enumerate([110.0, 88.0, 200.0, 170.0])]
    s = summarize([], equity, 100.0)
    assert s.max_drawdown == pytest.approx(30.0)
    assert s.max_drawdown_pct == pytest.approx(20.0)


def test_drawdown_counts_from_the_initial_equity():
    s = summarize([], [(T0, 95.0), (T0 + 1, 97.0)], 100.0)
    assert (s.max_drawdown, s.max_drawdown_pct) == (pytest.approx(5.0), pytest.approx(5.0))


def test_sharpe_from_daily_closes_hand_computed():
    # closes 100 | 110 (the last point of day 0 counts) | 99 | 108.9 → returns +10 %, −10 %, +10 %
    # mean 1/30, sample stdev sqrt(0.02/1.5) = 1/(5√3) → daily √3/6, × √365 = √1095 / 6
    equity = [(T0 + HOUR_MS, 105.0), (T0 + 2 * HOUR_MS, 110.0), (T0 + DAY_MS, 99.0)]
    equity.append((T0 + 2 * DAY_MS + HOUR_MS, 108.9))
    s = summarize([], equity, 100.0)
    assert s.sharpe == pytest.approx(math.sqrt(1095) / 6, rel=1e-9)


def test_sharpe_carries_equity_over_idle_days():
    # closes 100 | 110 | (idle: 110) | 121 → returns 0.1, 0, 0.1: mean 1/15, stdev 1/(10√3)
    equity = [(T0, 110.0), (T0 + 2 * DAY_MS, 121.0)]
    s = summarize([], equity, 100.0)
    assert s.sharpe == pytest.approx(2 / math.sqrt(3) * math.sqrt(365), rel=1e-9)


def test_one_day_has_no_sharpe_but_every_other_figure():
    trades = [trade(12.0, 0), trade(-4.0, 1), trade(8.0, 2)]
    s = summarize(trades, curve_of(trades, 500.0), 500.0)
    assert s.sharpe is None
    assert s.max_drawdown == pytest.approx(4.0)
    assert s.max_drawdown_pct == pytest.approx(4.0 / 512.0 * 100.0)
    assert s.return_pct == pytest.approx(16.0 / 500.0 * 100.0)


def test_flat_equity_has_no_sharpe():
    s = summarize([], [(T0, 100.0), (T0 + 3 * DAY_MS, 100.0)], 100.0)
    assert s.sharpe is None
    assert (s.max_drawdown, s.return_pct) == (0.0, 0.0)


def test_no_trades():
    s = summarize([], [], 1000.0)
    assert (s.trades, s.wins, s.losses) == (0, 0, 0)
    assert (s.net_pnl, s.gross_profit, s.gross_loss, s.fees) == (0, 0, 0, 0)
    assert s.win_rate is s.profit_factor is s.avg_win is s.avg_loss is s.expectancy is None
    assert (s.final_equity, s.return_pct, s.max_drawdown, s.sharpe) == (1000.0, 0.0, 0.0, None)
    assert s.by_strategy == s.by_quality == s.by_symbol == {}


def test_all_wins_have_no_profit_factor():
    trades = [trade(5.0, 0), trade(15.0, 30)]  # the second closes the next day
    s = summarize(trades, curve_of(trades, 100.0), 100.0)
    assert (s.win_rate, s.profit_factor, s.avg_loss, s.avg_win) == (1.0, None, None, 10.0)
    assert (s.max_drawdown, s.max_drawdown_pct) == (0.0, 0.0)
    # closes 100 | 105 | 120: returns 5 %, 120/105 − 1
    returns = [0.05, 120.0 / 105.0 - 1.0]
    mean, spread = sum(returns) / 2, abs(returns[0] - returns[1]) / math.sqrt(2)
    assert s.sharpe == pytest.approx(mean / spread * math.sqrt(365), rel=1e-9)


def test_breakdowns_by_strategy_quality_and_symbol():
    trades = [
        trade(10.0, 0, strategy="walls", quality=Quality.LOW, symbol="ETHUSDT"),
        trade(-4.0, 1, strategy="composite", quality=Quality.HIGH),
        trade(6.0, 2, strategy="walls", quality=Quality.HIGH, symbol="ETHUSDT"),
        trade(-2.0, 3, strategy="walls", quality=Quality.LOW),
    ]
    s = summarize(trades, curve_of(trades, 100.0), 100.0)
    assert list(s.by_strategy) == ["composite", "walls"]  # sorted, not in order of appearance
    walls = s.by_strategy["walls"]
    assert (walls.trades, walls.wins, walls.losses, walls.net_pnl) == (3, 2, 1, 14.0)
    assert walls.profit_factor == pytest.approx(8.0)
    assert walls.win_rate == pytest.approx(2 / 3)
    assert s.by_strategy["composite"].profit_factor == 0.0
    assert {k: g.net_pnl for k, g in s.by_quality.items()} == {"HIGH": 2.0, "LOW": 8.0}
    assert {k: g.trades for k, g in s.by_symbol.items()} == {"BTCUSDT": 2, "ETHUSDT": 2}
    assert s.by_symbol["ETHUSDT"].profit_factor is None


def sample() -> tuple[list[ClosedTrade], list[tuple[int, float]]]:
    pnls = [25.5, -10.0, 14.25, -30.0, 0.0, 42.0, -7.5, 19.0]
    trades = [
        trade(p, n * 9, side=Side.SHORT if n % 3 else Side.LONG, quality=list(Quality)[n % 3])
        for n, p in enumerate(pnls)
    ]
    return trades, curve_of(trades, 10_000.0)


def write_sample(out: Path, title: str = "BTCUSDT composite 2026-09") -> Path:
    trades, equity = sample()
    return write_report(summarize(trades, equity, 10_000.0), trades, equity, out, title)


def test_report_files_are_byte_identical_across_runs(tmp_path):
    page = write_sample(tmp_path / "a")
    assert page == tmp_path / "a" / "report.html"
    write_sample(tmp_path / "b")
    # a fresh interpreter too: a second backtest is a new process, with cold matplotlib caches
    script = (
        "import sys; from pathlib import Path; sys.path.insert(0, '.');"
        "from tests.unit.strategy.test_report import write_sample;"
        f"write_sample(Path({str(tmp_path / 'c')!r}))"
    )
    subprocess.run([sys.executable, "-c", script], check=True, timeout=120)
    for name in REPORT_FILES:
        first = (tmp_path / "a" / name).read_bytes()
        assert first, name
        assert first == (tmp_path / "b" / name).read_bytes() == (tmp_path / "c" / name).read_bytes()


def png_chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    chunks, at = [], 8
    while at < len(data):
        (length,) = struct.unpack(">I", data[at : at + 4])
        chunks.append((data[at + 4 : at + 8], data[at + 8 : at + 8 + length]))
        at += 12 + length
    return chunks


def test_png_has_a_fixed_size_and_no_metadata(tmp_path):
    write_sample(tmp_path)
    chunks = png_chunks((tmp_path / "equity.png").read_bytes())
    kinds = {kind for kind, _ in chunks}
    assert not kinds & {b"tEXt", b"iTXt", b"zTXt", b"tIME"}, kinds
    width, height = struct.unpack(">II", chunks[0][1][:8])
    assert (chunks[0][0], width, height) == (b"IHDR", 1000, 600)


def test_json_and_csv_hold_the_figures_and_every_trade(tmp_path):
    write_sample(tmp_path)
    trades, equity = sample()
    body = orjson.loads((tmp_path / "report.json").read_bytes())
    assert body["title"] == "BTCUSDT composite 2026-09"
    s = summarize(trades, equity, 10_000.0)
    assert body["summary"]["net_pnl"] == s.net_pnl == 53.25
    assert body["summary"]["by_quality"]["MEDIUM"]["trades"] == 3
    with (tmp_path / "trades.csv").open(newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == len(trades)
    for row, t in zip(rows, trades, strict=True):
        assert uuid.UUID(row["signal_id"]) == t.signal_id
        assert (row["side"], row["quality"], row["exit_reason"]) == (
            t.side,
            t.quality,
            t.exit_reason,
        )
        assert float(row["pnl"]) == t.pnl and float(row["entry_price"]) == t.entry_price
        assert int(row["exit_time_ms"]) == t.exit_time_ms


def test_html_escapes_every_text_and_embeds_the_chart(tmp_path):
    hostile = "<script>alert('x')</script>"
    trades = [trade(3.0, 0, strategy=hostile, exit_reason="<b>stop</b>", symbol="A&B")]
    equity = curve_of(trades, 100.0)
    title = 'Report "$5 & <i>up</i>"'  # a "$" would be TeX to matplotlib unless told otherwise
    page = write_report(summarize(trades, equity, 100.0), trades, equity, tmp_path, title)
    text = page.read_text(encoding="utf-8")
    assert "<script>" not in text and "<b>" not in text and "<i>" not in text
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in text
    assert "&lt;b&gt;stop&lt;/b&gt;" in text and "A&amp;B" in text
    assert "<title>Report &quot;$5 &amp; &lt;i&gt;up&lt;/i&gt;&quot;</title>" in text
    assert 'src="data:image/png;base64,iVBORw0KGgo' in text  # the PNG itself, no outside file


def test_report_without_trades_or_equity(tmp_path):
    page = write_report(summarize([], [], 1000.0), [], [], tmp_path, "empty")
    assert (tmp_path / "trades.csv").read_text() == (
        "signal_id,symbol,strategy,side,quality,entry_time_ms,exit_time_ms,"
        "entry_price,exit_price,qty,fees,pnl,exit_reason\n"
    )
    assert "<h2>Trades (0)</h2>" in page.read_text()
    assert orjson.loads((tmp_path / "report.json").read_bytes())["summary"]["sharpe"] is None
    assert png_chunks((tmp_path / "equity.png").read_bytes())[-1][0] == b"IEND"


def test_a_trade_closed_by_the_end_of_data_is_neither_a_win_nor_a_loss():
    trades = [trade(10.0, 0), trade(-4.0, 1), trade(25.0, 2, exit_reason="end_of_data")]
    s = summarize(trades, curve_of(trades, 1000.0), 1000.0)
    assert (s.trades, s.wins, s.losses, s.open_at_end) == (3, 1, 1, 1)
    assert (s.win_rate, s.open_at_end_pnl, s.net_pnl) == (0.5, 25.0, 31.0)
    assert (s.gross_profit, s.expectancy, s.final_equity) == (10.0, 3.0, 1031.0)


def bar(minute: int, high: float, low: float, close: float) -> tuple[int, float, float, float]:
    return (T0 + minute * 60_000, high, low, close)  # closing at the end of minute `minute`


def plan(t: ClosedTrade, stop: float, target: float) -> Signal:
    return Signal(t.entry_time_ms, t.symbol, t.strategy, t.side, t.entry_price, stop, (target,),
                  t.quality, 1.0)  # fmt: skip


def test_r_multiple_hold_mae_and_mfe_of_a_long_hand_computed():
    # long 2 @ 100 from 0:00:30 to 0:02:30, stop 95: risk 10; bars 1..3 overlap the trade
    t = replace(trade(12.0, 0), entry_time_ms=T0 + 30_000, exit_time_ms=T0 + 150_000,
                entry_price=100.0, qty=2.0)  # fmt: skip
    bars = [bar(0, 200, 1, 150), bar(1, 103, 98, 101), bar(2, 108, 99, 106), bar(3, 107, 97, 100)]
    bars.append(bar(4, 300, 1, 150))  # opens after the exit: not counted
    d = trade_detail(t, plan(t, 95.0, 110.0), bars, 60_000)
    assert (d.r_multiple, d.hold_ms) == (1.2, 120_000)
    assert (d.mae, d.mfe) == (-6.0, 16.0)  # lows 98, 99, 97 → −3 × 2; highs up to 108 → 8 × 2


def test_a_short_excursion_and_a_trade_without_a_plan():
    t = replace(trade(-3.0, 0), side=Side.SHORT, entry_time_ms=T0, exit_time_ms=T0 + 60_000,
                entry_price=50.0, qty=1.0)  # fmt: skip
    d = trade_detail(t, None, [bar(0, 52.0, 49.0, 51.0), bar(1, 53.0, 48.0, 52.0)], 60_000)
    # the first bar closed at the entry, so only the second counts: high 53 (−3), low 48 (+2)
    assert (d.r_multiple, d.mae, d.mfe) == (None, -3.0, 2.0)


def test_equity_marked_to_market_moves_while_a_trade_is_open():
    # long 1 @ 100 entered at 0:00:10, out at the close of minute 3 for +4 net of costs
    t = replace(trade(4.0, 0), entry_time_ms=T0 + 10_000, exit_time_ms=T0 + 180_000,
                entry_price=100.0, qty=1.0)  # fmt: skip
    closes = [103.0, 97.0, 105.0, 90.0]  # at the ends of minutes 1..4
    bars = {"BTCUSDT": [bar(m + 1, 0, 0, c) for m, c in enumerate(closes)]}
    curve = marked_equity([t], bars, 1000.0, T0)
    assert [v for _, v in curve] == [1000.0, 1003.0, 997.0, 1004.0, 1004.0]
    assert [m for m, _ in curve] == [T0, *(b[0] for b in bars["BTCUSDT"])]
    s = summarize([t], curve, 1000.0)
    assert s.max_drawdown == pytest.approx(6.0)  # 1003 → 997, invisible at the exits alone


def demo_run() -> tuple[list[ClosedTrade], RunInfo]:
    trades, _ = sample()
    closes = [97_000.0 + 30 * math.sin(i / 70) for i in range(80 * 60)]
    bars = {"BTCUSDT": [(T0 + (i + 1) * 60_000, c + 5, c - 5, c) for i, c in enumerate(closes)]}
    ended = replace(trades[-1], exit_reason="end_of_data")
    trades = [*trades[:-1], ended]
    signals = [(plan(t, t.entry_price - 40, t.entry_price + 60), Decision(True, "accepted", t.qty))
               for t in trades]  # fmt: skip
    refused = plan(trade(0.0, 5), 96_950.0, 97_100.0)
    signals.append((replace(refused, time_ms=T0 + 333_000), Decision(False, "max_concurrent")))
    run = RunInfo(T0, T0 + 80 * HOUR_MS, 60_000, [("bar size", "60 s"), ("fees", "4 bps per side")],
                  (), bars, signals)  # fmt: skip
    return trades, run


def write_demo(out: Path) -> Path:
    trades, run = demo_run()
    equity = marked_equity(trades, run.bars, 10_000.0, run.start_ms)
    return write_report(summarize(trades, equity, 10_000.0), trades, equity, out, "demo", run)


def test_page_states_the_run_and_lists_refused_signals_and_end_of_data_exits(tmp_path):
    text = write_demo(tmp_path).read_text()
    assert "<td>fees</td><td>4 bps per side</td>" in text
    assert "<h2>Refused signals (1)</h2>" in text and "<td>max_concurrent</td><td>1</td>" in text
    assert "Still open when the data ended (1)" in text and "Closed by a rule (7)" in text
    assert text.count('src="data:image/png;base64,') == 2  # equity, and BTCUSDT's price
    for heading in ("<th>R</th>", "<th>hold</th>", "<th>MAE</th>", "<th>MFE</th>"):
        assert heading in text


def test_an_empty_run_says_why(tmp_path):
    note = "No trades: no strategy signalled on 120 bars with the built-in defaults."
    run = RunInfo(T0, T0 + 2 * HOUR_MS, 60_000, [("bar size", "60 s")], [note])
    equity = [(T0, 1000.0)]
    page = write_report(summarize([], equity, 1000.0), [], equity, tmp_path, "empty", run)
    text = page.read_text()
    assert f'<p class="note">{note}</p>' in text and "<h2>Refused signals (0)</h2>" in text


def screenshot(page: Path, out: Path) -> Image.Image:
    browser = shutil.which("chromium")
    if browser is None:
        pytest.skip(
            "no chromium: `make test` installs Debian's package (scripts/install_chromium.sh)"
        )
    subprocess.run(
        [browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
         f"--user-data-dir={out.parent / 'chromium-profile'}", "--window-size=1200,2400",
         f"--screenshot={out}", page.as_uri()],
        check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    return Image.open(out).convert("L")


@pytest.mark.timeout(180)
def test_report_renders_in_headless_chromium(tmp_path):
    image = screenshot(write_demo(tmp_path / "report"), tmp_path / "shot.png")
    assert image.size == (1200, 2400)
    stats = ImageStat.Stat(image)
    # a blank page is one colour (stddev 0); text, tables and charts spread the grey levels
    assert stats.stddev[0] > 20, stats.stddev
    dark = sum(image.histogram()[:128])  # text and lines
    assert dark > 0.005 * image.size[0] * image.size[1], dark
