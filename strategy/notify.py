"""Where the worker tells people what happened: the webhook (JSON) and Telegram (text).

Both are optional and independent. The webhook gets every signal with its decision (as before)
and each scheduled report; Telegram gets what a person acts on: accepted signals (ENTRY, in seed
001's template: levels, R:R, expected hold), closed trades (EXIT) and the reports. Sending never
blocks and never raises: each outlet counts what it delivered, refused and dropped.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from strategy import metrics, store
from strategy.risk import Decision
from strategy.signals import Signal
from strategy.telegram import Telegram, TelegramConfig
from strategy.trades import ClosedTrade
from strategy.webhook import Webhook

log = logging.getLogger(__name__)
REASONS_SHOWN = 6  # indicator values quoted in a message


class Notifiers:
    """The configured outlets. `start()` inside the event loop, `close()` when the worker stops."""

    def __init__(self, webhook_url: str | None, telegram: TelegramConfig | None) -> None:
        self.webhook = Webhook(webhook_url) if webhook_url else None
        self.telegram = Telegram(telegram) if telegram else None

    def start(self) -> None:
        for outlet, gauge in ((self.webhook, metrics.WEBHOOK), (self.telegram, metrics.TELEGRAM)):
            if outlet is not None:
                outlet.start()
                for outcome in ("sent", "failed", "dropped"):
                    gauge.labels(outcome).set_function(lambda o=outcome, w=outlet: getattr(w, o))
        if self.telegram is not None:
            log.info("telegram notifications on (chat %s)", self.telegram.chat_id)

    async def close(self) -> None:
        for outlet in (self.webhook, self.telegram):
            if outlet is not None:
                await outlet.close()

    def signal(self, signal: Signal, decision: Decision, hold_ms: int) -> None:
        if self.webhook is not None:
            self.webhook.send(store.signal_json(signal, decision))
        if self.telegram is not None and decision.accepted:
            self.telegram.send_text(signal_text(signal, decision, hold_ms))

    def closed(self, trade: ClosedTrade) -> None:
        if self.telegram is not None:
            self.telegram.send_text(exit_text(trade))

    def report(self, payload: dict[str, Any], text: str) -> None:
        if self.webhook is not None:
            self.webhook.send(payload)
        if self.telegram is not None:
            self.telegram.send_text(text)


def signal_text(signal: Signal, decision: Decision, hold_ms: int) -> str:
    """An accepted signal as seed 001's SIGNAL_TEMPLATE: direction, priority, levels, score,
    risk:reward to the last target, expected hold (the time exit) and the reasons."""
    s = signal
    targets = "  ".join(f"TP{i} {t:.10g}" for i, t in enumerate(s.targets, 1))
    rr = abs(s.targets[-1] - s.entry) / s.risk_per_unit if s.targets and s.risk_per_unit else None
    lines = [
        f"ENTRY {s.side.value} {s.symbol} · {s.quality.value} · score {s.score:.0f}",
        f"entry {s.entry:.10g}  stop {s.stop:.10g}  {targets}".rstrip(),
        f"R:R {rr:.2f}" if rr is not None else "R:R —",
        f"expected hold ≤ {_duration(hold_ms)}" if hold_ms else "expected hold: until stop/target",
        f"qty {decision.qty:.10g} · {s.strategy} · {_utc(s.time_ms)}",
    ]
    reasons = [f"{k} {_value(v)}" for k, v in list(s.reasons.items())[:REASONS_SHOWN]]
    if reasons:
        lines.append(", ".join(reasons))
    lines.append(f"id {s.signal_id}")
    return "\n".join(lines)


def exit_text(trade: ClosedTrade) -> str:
    t = trade
    held = _duration(t.exit_time_ms - t.entry_time_ms)
    return "\n".join([
        f"EXIT {t.side.value} {t.symbol} · {t.exit_reason} · PnL {t.pnl:+,.2f}",
        f"entry {t.entry_price:.10g} → exit {t.exit_price:.10g}  qty {t.qty:.10g}",
        f"held {held} · {t.strategy} · {_utc(t.exit_time_ms)}",
        f"id {t.signal_id}",
    ])  # fmt: skip


def _value(value: object) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def _duration(ms: int) -> str:
    minutes = round(ms / 60_000)
    if minutes < 1:
        return f"{ms / 1000:.0f}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m"


def _utc(ms: int) -> str:
    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
