"""``SYMBOLS=top:N``: the N trading USDT perpetuals with the highest 24 h quote volume."""

from __future__ import annotations

from collector.rest import BinanceRest


async def top_symbols(rest: BinanceRest, n: int) -> list[str]:
    info = await rest.exchange_info()
    eligible = {
        s["symbol"]
        for s in info["symbols"]
        if s.get("contractType") == "PERPETUAL"
        and s.get("quoteAsset") == "USDT"
        and s.get("status") == "TRADING"
    }
    tickers = await rest.tickers_24h()
    ranked = sorted(
        (t for t in tickers if t["symbol"] in eligible),
        key=lambda t: float(t["quoteVolume"]),
        reverse=True,
    )
    return [t["symbol"] for t in ranked[:n]]
