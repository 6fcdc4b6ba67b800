-- Every table, view and column described, so `\d+ <table>` in psql explains itself.
-- Units: prices in the quote asset (USDT), sizes ("qty") in the base asset (BTC for BTCUSDT),
-- notionals in the quote asset. Times are timestamptz in UTC, built from Binance's milliseconds.

COMMENT ON TABLE agg_trades IS 'Every aggregate trade (<symbol>@aggTrade; holes backfilled from REST /aggTrades). One row per agg_trade_id. Units: price in the quote asset, qty in the base asset.';
COMMENT ON COLUMN agg_trades.time IS 'T: trade time (the exchange''s match time)';
COMMENT ON COLUMN agg_trades.symbol IS 's: the symbol, e.g. BTCUSDT';
COMMENT ON COLUMN agg_trades.market IS 'usdm (USDⓈ-M futures) or spot';
COMMENT ON COLUMN agg_trades.agg_trade_id IS 'a: aggregate trade id, consecutive per symbol and market; holes are detected on it';
COMMENT ON COLUMN agg_trades.price IS 'p: price, quote asset';
COMMENT ON COLUMN agg_trades.qty IS 'q: quantity in the base asset, including RPI (retail price improvement) fills';
COMMENT ON COLUMN agg_trades.normal_qty IS 'nq: quantity excluding RPI fills, base asset; NULL when Binance did not send it';
COMMENT ON COLUMN agg_trades.first_trade_id IS 'f: first individual trade id in this aggregate';
COMMENT ON COLUMN agg_trades.last_trade_id IS 'l: last individual trade id in this aggregate';
COMMENT ON COLUMN agg_trades.is_buyer_maker IS 'm: true = the buyer was the maker, so the aggressor SOLD; false = an aggressive buy';
COMMENT ON COLUMN agg_trades.event_time IS 'E: when Binance sent the event; NULL for rows backfilled from REST';
COMMENT ON COLUMN agg_trades.received_at IS 'the recorder''s clock when the message arrived';
COMMENT ON COLUMN agg_trades.extra IS 'payload fields Flowline does not know yet, kept as JSON instead of being dropped';

COMMENT ON TABLE depth_updates IS 'Every order-book diff (<symbol>@depth@<speed>). Levels are absolute: a qty of 0 removes the price level. Futures diffs chain by prev_final_update_id = the previous final_update_id.';
COMMENT ON COLUMN depth_updates.time IS 'E: event time';
COMMENT ON COLUMN depth_updates.symbol IS 's: the symbol';
COMMENT ON COLUMN depth_updates.market IS 'usdm or spot';
COMMENT ON COLUMN depth_updates.transaction_time IS 'T: matching-engine time (futures only)';
COMMENT ON COLUMN depth_updates.first_update_id IS 'U: first update id in this diff';
COMMENT ON COLUMN depth_updates.final_update_id IS 'u: final update id in this diff';
COMMENT ON COLUMN depth_updates.prev_final_update_id IS 'pu: final update id of the previous diff (futures); NULL on spot, which chains by U = previous u + 1';
COMMENT ON COLUMN depth_updates.bid_prices IS 'b: bid prices changed, quote asset (parallel to bid_qtys)';
COMMENT ON COLUMN depth_updates.bid_qtys IS 'b: new absolute bid sizes at those prices, base asset; 0 removes the level';
COMMENT ON COLUMN depth_updates.ask_prices IS 'a: ask prices changed, quote asset (parallel to ask_qtys)';
COMMENT ON COLUMN depth_updates.ask_qtys IS 'a: new absolute ask sizes at those prices, base asset; 0 removes the level';
COMMENT ON COLUMN depth_updates.received_at IS 'the recorder''s clock when the message arrived';
COMMENT ON COLUMN depth_updates.extra IS 'payload fields Flowline does not know yet';

COMMENT ON TABLE depth_snapshots IS 'Full order-book snapshots from REST /fapi/v1/depth (limit 1000): at start, after every break of the diff chain (resync), and periodically. Replaying diffs after last_update_id rebuilds the book at any moment.';
COMMENT ON COLUMN depth_snapshots.time IS 'when the recorder received the REST answer';
COMMENT ON COLUMN depth_snapshots.symbol IS 'the symbol';
COMMENT ON COLUMN depth_snapshots.market IS 'usdm or spot';
COMMENT ON COLUMN depth_snapshots.last_update_id IS 'lastUpdateId: the book as of this update id';
COMMENT ON COLUMN depth_snapshots.event_time IS 'E: event time of the answer (futures)';
COMMENT ON COLUMN depth_snapshots.transaction_time IS 'T: matching-engine time of the answer (futures)';
COMMENT ON COLUMN depth_snapshots.reason IS 'start | resync (after a chain break) | periodic';
COMMENT ON COLUMN depth_snapshots.bid_prices IS 'bid prices, best first, quote asset';
COMMENT ON COLUMN depth_snapshots.bid_qtys IS 'bid sizes, base asset, parallel to bid_prices';
COMMENT ON COLUMN depth_snapshots.ask_prices IS 'ask prices, best first, quote asset';
COMMENT ON COLUMN depth_snapshots.ask_qtys IS 'ask sizes, base asset, parallel to ask_prices';
COMMENT ON COLUMN depth_snapshots.received_at IS 'the recorder''s clock when the answer arrived';
COMMENT ON COLUMN depth_snapshots.extra IS 'answer fields Flowline does not know yet';

COMMENT ON TABLE book_top IS 'Samples of the recorder''s own synced local book, every BOOK_TOP_INTERVAL: no row is written while a book is out of sync or its stream is down.';
COMMENT ON COLUMN book_top.time IS 'the recorder''s clock at the sample';
COMMENT ON COLUMN book_top.symbol IS 'the symbol';
COMMENT ON COLUMN book_top.market IS 'usdm or spot';
COMMENT ON COLUMN book_top.last_update_id IS 'u of the last diff applied to the local book';
COMMENT ON COLUMN book_top.event_time IS 'E of that diff';
COMMENT ON COLUMN book_top.best_bid_price IS 'best bid, quote asset';
COMMENT ON COLUMN book_top.best_bid_qty IS 'size at the best bid, base asset';
COMMENT ON COLUMN book_top.best_ask_price IS 'best ask, quote asset';
COMMENT ON COLUMN book_top.best_ask_qty IS 'size at the best ask, base asset';
COMMENT ON COLUMN book_top.bid_prices IS 'bid prices, best first, BOOK_TOP_LEVELS deep';
COMMENT ON COLUMN book_top.bid_qtys IS 'bid sizes, base asset, parallel to bid_prices';
COMMENT ON COLUMN book_top.ask_prices IS 'ask prices, best first, BOOK_TOP_LEVELS deep';
COMMENT ON COLUMN book_top.ask_qtys IS 'ask sizes, base asset, parallel to ask_prices';

COMMENT ON TABLE mark_prices IS 'Mark price, index price and funding (!markPrice@arr@1s), one row per symbol per second.';
COMMENT ON COLUMN mark_prices.time IS 'E: event time';
COMMENT ON COLUMN mark_prices.symbol IS 's: the symbol';
COMMENT ON COLUMN mark_prices.mark_price IS 'p: mark price, quote asset (what PnL and liquidations use)';
COMMENT ON COLUMN mark_prices.index_price IS 'i: index price (spot average), quote asset';
COMMENT ON COLUMN mark_prices.estimated_settle_price IS 'P: estimated settle price (meaningful in the last hour before a settlement)';
COMMENT ON COLUMN mark_prices.funding_rate IS 'r: current funding rate as a fraction per funding interval (0.0001 = 0.01 %); longs pay shorts when positive';
COMMENT ON COLUMN mark_prices.next_funding_time IS 'T: next funding time; NULL when Binance sends 0';
COMMENT ON COLUMN mark_prices.mark_price_avg IS 'ap: mark price moving average (newer field; NULL when absent)';
COMMENT ON COLUMN mark_prices.received_at IS 'the recorder''s clock when the message arrived';
COMMENT ON COLUMN mark_prices.extra IS 'payload fields Flowline does not know yet';

COMMENT ON TABLE force_orders IS 'Liquidation orders (!forceOrder@arr). Binance sends at most one per symbol per second, so this is a lower bound of liquidations.';
COMMENT ON COLUMN force_orders.time IS 'E: event time';
COMMENT ON COLUMN force_orders.symbol IS 'o.s: the symbol';
COMMENT ON COLUMN force_orders.side IS 'o.S: SELL = a long was liquidated (forced selling), BUY = a short was liquidated';
COMMENT ON COLUMN force_orders.order_type IS 'o.o: order type (LIMIT)';
COMMENT ON COLUMN force_orders.time_in_force IS 'o.f: time in force (IOC)';
COMMENT ON COLUMN force_orders.orig_qty IS 'o.q: original quantity, base asset';
COMMENT ON COLUMN force_orders.price IS 'o.p: order price, quote asset';
COMMENT ON COLUMN force_orders.avg_price IS 'o.ap: average fill price, quote asset';
COMMENT ON COLUMN force_orders.status IS 'o.X: order status (FILLED, ...)';
COMMENT ON COLUMN force_orders.last_filled_qty IS 'o.l: quantity of the last fill, base asset';
COMMENT ON COLUMN force_orders.filled_qty IS 'o.z: accumulated filled quantity, base asset; notional = filled_qty * avg_price';
COMMENT ON COLUMN force_orders.trade_time IS 'o.T: trade time';
COMMENT ON COLUMN force_orders.received_at IS 'the recorder''s clock when the message arrived';
COMMENT ON COLUMN force_orders.extra IS 'payload fields Flowline does not know yet';

COMMENT ON TABLE open_interest IS 'Open interest polled from REST /fapi/v1/openInterest every OI_POLL_INTERVAL.';
COMMENT ON COLUMN open_interest.time IS 'time: the exchange time of the answer';
COMMENT ON COLUMN open_interest.symbol IS 'the symbol';
COMMENT ON COLUMN open_interest.open_interest IS 'openInterest: open contracts, in the base asset';
COMMENT ON COLUMN open_interest.received_at IS 'the recorder''s clock when the answer arrived';
COMMENT ON COLUMN open_interest.extra IS 'answer fields Flowline does not know yet';

COMMENT ON TABLE recorder_events IS 'What the recorder did and saw: connections, holes (kind gap) and their repairs, resyncs, spooling, malformed frames, rate limits, universe changes. data_gaps is the readable view of the holes.';
COMMENT ON COLUMN recorder_events.time IS 'the recorder''s clock at the event';
COMMENT ON COLUMN recorder_events.event_id IS 'unique id chosen by the recorder, so a replayed spool never duplicates an event';
COMMENT ON COLUMN recorder_events.kind IS 'connect | disconnect | rollover | stale | gap | backfill | resync | spool | replay | malformed | rest_limited | universe | start | stop | ...';
COMMENT ON COLUMN recorder_events.symbol IS 'the symbol concerned, if any';
COMMENT ON COLUMN recorder_events.market IS 'usdm or spot, if any';
COMMENT ON COLUMN recorder_events.stream IS 'the stream or table concerned (agg_trades, depth_updates, a stream name, a REST path)';
COMMENT ON COLUMN recorder_events.first_id IS 'gaps: first missing id (agg_trade_id, or depth update id)';
COMMENT ON COLUMN recorder_events.last_id IS 'gaps: last missing id';
COMMENT ON COLUMN recorder_events.start_time IS 'gaps: start of the time span concerned, when known';
COMMENT ON COLUMN recorder_events.end_time IS 'gaps: end of the time span concerned, when known';
COMMENT ON COLUMN recorder_events.status IS 'gaps and repairs: open | repaired | partial | unrecoverable';
COMMENT ON COLUMN recorder_events.ref IS 'links a repair (backfill, resync) to the gap it resolves';
COMMENT ON COLUMN recorder_events.details IS 'the rest, as JSON (counts, reasons, error texts)';

DO $comments$
DECLARE
    kind text;
BEGIN
    -- continuous aggregates (community license) are views too, but say so differently
    FOR kind IN SELECT CASE relkind WHEN 'm' THEN 'MATERIALIZED VIEW' ELSE 'VIEW' END
                FROM pg_class WHERE oid = 'candles_1m'::regclass LOOP
        EXECUTE format('COMMENT ON %s candles_1m IS %L', kind,
            '1-minute candles from agg_trades, per symbol and market. open/close are the first/last trade by agg_trade_id; sums are rounded to 8 decimals. Sizes in the base asset, prices and quote_volume in the quote asset.');
    END LOOP;
    FOR kind IN SELECT CASE relkind WHEN 'm' THEN 'MATERIALIZED VIEW' ELSE 'VIEW' END
                FROM pg_class WHERE oid = 'liquidations_1m'::regclass LOOP
        EXECUTE format('COMMENT ON %s liquidations_1m IS %L', kind,
            '1-minute liquidation totals from force_orders, per symbol and side (SELL = longs liquidated, BUY = shorts liquidated).');
    END LOOP;
END
$comments$;
COMMENT ON COLUMN candles_1m.bucket IS 'start of the minute';
COMMENT ON COLUMN candles_1m.symbol IS 'the symbol';
COMMENT ON COLUMN candles_1m.market IS 'usdm or spot';
COMMENT ON COLUMN candles_1m.open IS 'price of the minute''s first trade (lowest agg_trade_id)';
COMMENT ON COLUMN candles_1m.high IS 'highest trade price';
COMMENT ON COLUMN candles_1m.low IS 'lowest trade price';
COMMENT ON COLUMN candles_1m.close IS 'price of the minute''s last trade (highest agg_trade_id)';
COMMENT ON COLUMN candles_1m.volume IS 'traded quantity, base asset';
COMMENT ON COLUMN candles_1m.buy_volume IS 'quantity of aggressive buys (is_buyer_maker false), base asset';
COMMENT ON COLUMN candles_1m.sell_volume IS 'quantity of aggressive sells (is_buyer_maker true), base asset';
COMMENT ON COLUMN candles_1m.delta IS 'buy_volume - sell_volume, base asset';
COMMENT ON COLUMN candles_1m.trades IS 'number of aggregate trades';
COMMENT ON COLUMN candles_1m.quote_volume IS 'sum of price * qty, quote asset';
COMMENT ON COLUMN candles_1m.vwap IS 'volume-weighted average price, quote_volume / volume';
COMMENT ON COLUMN candles_1m.buy_trades IS 'aggregate trades whose aggressor bought';
COMMENT ON COLUMN candles_1m.sell_trades IS 'aggregate trades whose aggressor sold';
COMMENT ON COLUMN liquidations_1m.bucket IS 'start of the minute';
COMMENT ON COLUMN liquidations_1m.symbol IS 'the symbol';
COMMENT ON COLUMN liquidations_1m.side IS 'SELL = longs liquidated, BUY = shorts liquidated';
COMMENT ON COLUMN liquidations_1m.orders IS 'number of liquidation orders (at most one per symbol per second reaches the stream)';
COMMENT ON COLUMN liquidations_1m.qty IS 'filled quantity, base asset';
COMMENT ON COLUMN liquidations_1m.notional IS 'filled quantity * average price, quote asset';

COMMENT ON VIEW data_gaps IS 'Where the holes in the data are and what became of them: one row per declared gap with its latest repair status.';
COMMENT ON COLUMN data_gaps.detected_at IS 'when the recorder declared the hole';
COMMENT ON COLUMN data_gaps.symbol IS 'the symbol';
COMMENT ON COLUMN data_gaps.market IS 'usdm or spot';
COMMENT ON COLUMN data_gaps.stream IS 'the table or stream with the hole';
COMMENT ON COLUMN data_gaps.first_id IS 'first missing id, when the stream has ids';
COMMENT ON COLUMN data_gaps.last_id IS 'last missing id';
COMMENT ON COLUMN data_gaps.start_time IS 'start of the missing time span, when known';
COMMENT ON COLUMN data_gaps.end_time IS 'end of the missing time span, when known';
COMMENT ON COLUMN data_gaps.status IS 'open (repair pending) | repaired (every row is stored) | partial | unrecoverable (the exchange can no longer give it)';
COMMENT ON COLUMN data_gaps.resolved_at IS 'time of the latest repair event; NULL while open';
COMMENT ON COLUMN data_gaps.details IS 'the gap''s and its repair''s details merged';
COMMENT ON COLUMN data_gaps.ref IS 'the gap''s id; repairs in recorder_events carry it in ref';

COMMENT ON TABLE schema_migrations IS 'The numbered files of sql/ applied to this database, with their checksums.';
COMMENT ON COLUMN schema_migrations.version IS 'file name relative to sql/';
COMMENT ON COLUMN schema_migrations.checksum IS 'sha256 of the file as applied; db init warns when the file changed since';
COMMENT ON COLUMN schema_migrations.applied_at IS 'when it was applied';

-- The strategy worker's tables.
COMMENT ON TABLE indicators IS 'Order-flow indicator values per symbol per bar, written by the strategy worker at each bar close (the same values a backtest computes). NULL = undefined or warming up, never a fake 0. Prices in the quote asset, volumes in the base asset.';
COMMENT ON COLUMN indicators.time IS 'bar start';
COMMENT ON COLUMN indicators.symbol IS 'the symbol (futures)';
COMMENT ON COLUMN indicators.bar_ms IS 'bar length in milliseconds';
COMMENT ON COLUMN indicators.open IS 'first trade price of the bar; NULL for a bar without trades';
COMMENT ON COLUMN indicators.high IS 'highest trade price of the bar';
COMMENT ON COLUMN indicators.low IS 'lowest trade price of the bar';
COMMENT ON COLUMN indicators.close IS 'last trade price of the bar';
COMMENT ON COLUMN indicators.volume IS 'traded quantity, base asset';
COMMENT ON COLUMN indicators.buy_volume IS 'aggressive buy quantity, base asset';
COMMENT ON COLUMN indicators.sell_volume IS 'aggressive sell quantity, base asset';
COMMENT ON COLUMN indicators.delta IS 'buy_volume - sell_volume (aggressor side), base asset';
COMMENT ON COLUMN indicators.normalized_delta IS '(buy - sell) / (buy + sell), in [-1, 1]; NULL without volume';
COMMENT ON COLUMN indicators.trades IS 'number of aggregate trades in the bar';
COMMENT ON COLUMN indicators.vwap IS 'the bar''s volume-weighted average price';
COMMENT ON COLUMN indicators.cvd IS 'cumulative volume delta since 00:00 UTC, base asset; only its changes carry meaning';
COMMENT ON COLUMN indicators.rolling_vwap IS 'volume-weighted average price over the rolling window configured in [indicators]';
COMMENT ON COLUMN indicators.rsi IS 'RSI of bar closes (Wilder), 0..100';
COMMENT ON COLUMN indicators.atr IS 'average true range of the bars (Wilder), quote asset';
COMMENT ON COLUMN indicators.large_buys IS 'aggressive buys in the bar with notional >= large_trade_notional';
COMMENT ON COLUMN indicators.large_sells IS 'aggressive sells in the bar with notional >= large_trade_notional';
COMMENT ON COLUMN indicators.book_valid IS 'true when a synced order book stood behind the book columns; false during a gap or resync (book columns then NULL)';
COMMENT ON COLUMN indicators.best_bid IS 'best bid at the bar close, on the tick';
COMMENT ON COLUMN indicators.best_ask IS 'best ask at the bar close, on the tick';
COMMENT ON COLUMN indicators.imbalance IS 'top-N depth imbalance (bid - ask size) / (bid + ask size) over book_levels, in [-1, 1]; > 0 = more resting bids';
COMMENT ON COLUMN indicators.band_imbalance IS 'depth imbalance over the levels within band_bps of the mid, in [-1, 1]';
COMMENT ON COLUMN indicators.ofi IS 'best-level order-flow imbalance (Cont-Kukanov-Stoikov) of the last book update, base asset; > 0 = buying pressure';
COMMENT ON COLUMN indicators.bid_wall_price IS 'price of the nearest bid liquidity wall';
COMMENT ON COLUMN indicators.bid_wall_qty IS 'resting size of that wall, base asset';
COMMENT ON COLUMN indicators.bid_wall_bps IS 'distance from the mid to that wall, basis points';
COMMENT ON COLUMN indicators.ask_wall_price IS 'price of the nearest ask liquidity wall';
COMMENT ON COLUMN indicators.ask_wall_qty IS 'resting size of that wall, base asset';
COMMENT ON COLUMN indicators.ask_wall_bps IS 'distance from the mid to that wall, basis points';
COMMENT ON COLUMN indicators.absorption IS 'absorption strength (simple form): (aggressor volume / its recent median) / (1 + progress in ticks); > ~2 = aggression absorbed without moving the price';
COMMENT ON COLUMN indicators.absorption_side IS 'side of the absorbed aggression: +1 buys absorbed (sellers resting above), -1 sells absorbed (buyers resting below), 0 none';
COMMENT ON COLUMN indicators.absorption_price IS 'price where the absorption happened';
COMMENT ON COLUMN indicators.absorption_impact IS 'absorption strength (impact form) clip(1 - progress in ticks / (expected ticks per delta * |delta|), 0, 1); NULL while warming up';
COMMENT ON COLUMN indicators.panic IS 'raw panic index: weighted robust z-scores of volatility, volume and liquidations, each capped';
COMMENT ON COLUMN indicators.panic_score IS 'panic as a percentile of its recent history, 0..1 (>= 0.99 = panic)';
COMMENT ON COLUMN indicators.panic_direction IS 'sign of the bar return: -1 panic selling, +1 short-squeeze panic, 0 flat';
COMMENT ON COLUMN indicators.liq_sell_notional IS 'notional of longs liquidated in the bar (SELL force orders), quote asset';
COMMENT ON COLUMN indicators.liq_buy_notional IS 'notional of shorts liquidated in the bar (BUY force orders), quote asset';
COMMENT ON COLUMN indicators.fp_buy_imbalances IS 'footprint rows with a diagonal buy imbalance in the bar';
COMMENT ON COLUMN indicators.fp_sell_imbalances IS 'footprint rows with a diagonal sell imbalance in the bar';
COMMENT ON COLUMN indicators.fp_buy_zones IS 'stacked buy-imbalance zones in the bar (consecutive imbalanced rows)';
COMMENT ON COLUMN indicators.fp_sell_zones IS 'stacked sell-imbalance zones in the bar';
COMMENT ON COLUMN indicators.mark_price IS 'latest mark price at the bar close';
COMMENT ON COLUMN indicators.funding_rate IS 'latest funding rate at the bar close, fraction per funding interval';
COMMENT ON COLUMN indicators.open_interest IS 'latest open interest at the bar close, base asset';

COMMENT ON TABLE signals IS 'Every signal a strategy emitted, with its plan, the indicator values behind it and the risk manager''s decision.';
COMMENT ON COLUMN signals.signal_id IS 'uuid5 of strategy, symbol, time and side: the same signal in a replay has the same id';
COMMENT ON COLUMN signals.time IS 'the bar close that produced it';
COMMENT ON COLUMN signals.symbol IS 'the symbol';
COMMENT ON COLUMN signals.strategy IS 'the strategy''s name';
COMMENT ON COLUMN signals.side IS 'LONG | SHORT';
COMMENT ON COLUMN signals.entry IS 'planned entry price';
COMMENT ON COLUMN signals.stop IS 'stop-loss price';
COMMENT ON COLUMN signals.target1 IS 'first take-profit price';
COMMENT ON COLUMN signals.target2 IS 'second take-profit price';
COMMENT ON COLUMN signals.quality IS 'HIGH | MEDIUM | LOW, from the score';
COMMENT ON COLUMN signals.score IS 'the strategy''s quality score';
COMMENT ON COLUMN signals.reasons IS 'the indicator values behind the signal, as JSON';
COMMENT ON COLUMN signals.qty IS 'position size the risk manager gave an accepted signal, base asset';
COMMENT ON COLUMN signals.created_at IS 'when the row was written';

COMMENT ON TABLE positions IS 'Paper positions (EXECUTION=paper and backtests): fills simulated from recorded trades with fees and slippage.';
COMMENT ON COLUMN positions.position_id IS 'the signal that opened it';
COMMENT ON COLUMN positions.symbol IS 'the symbol';
COMMENT ON COLUMN positions.strategy IS 'the strategy that signalled it';
COMMENT ON COLUMN positions.side IS 'LONG | SHORT';
COMMENT ON COLUMN positions.qty IS 'entry quantity, base asset';
COMMENT ON COLUMN positions.remaining IS 'quantity still open, base asset';
COMMENT ON COLUMN positions.status IS 'pending | open | closed';
COMMENT ON COLUMN positions.stop IS 'current stop price (moves to entry at breakeven)';
COMMENT ON COLUMN positions.targets IS 'take-profit prices';
COMMENT ON COLUMN positions.targets_hit IS 'how many targets were reached';
COMMENT ON COLUMN positions.entry_price IS 'average entry fill price';
COMMENT ON COLUMN positions.entry_time IS 'entry fill time';
COMMENT ON COLUMN positions.exit_price IS 'quantity-weighted average of all exits';
COMMENT ON COLUMN positions.exit_time IS 'time of the last exit';
COMMENT ON COLUMN positions.exit_reason IS 'stop | breakeven | target | time | stale_data | symbol_removed | reset | end_of_data';
COMMENT ON COLUMN positions.fees IS 'fees paid, quote asset';
COMMENT ON COLUMN positions.realized_pnl IS 'realized profit and loss net of fees, quote asset';
COMMENT ON COLUMN positions.updated_at IS 'when the row last changed';

COMMENT ON TABLE fills IS 'Paper fills of the positions table.';
COMMENT ON COLUMN fills.fill_id IS '<position id>:<kind>';
COMMENT ON COLUMN fills.position_id IS 'the position';
COMMENT ON COLUMN fills.time IS 'fill time (the recorded trade that filled it)';
COMMENT ON COLUMN fills.symbol IS 'the symbol';
COMMENT ON COLUMN fills.side IS 'BUY | SELL';
COMMENT ON COLUMN fills.qty IS 'filled quantity, base asset';
COMMENT ON COLUMN fills.price IS 'fill price including slippage';
COMMENT ON COLUMN fills.fee IS 'fee, quote asset';
COMMENT ON COLUMN fills.kind IS 'entry | stop | breakeven | target1 | target2 | ...';

COMMENT ON TABLE strategy_state IS 'Each strategy worker''s watermark: where it resumes after a restart.';
COMMENT ON COLUMN strategy_state.worker IS 'the worker''s name (STRATEGY_WORKER_NAME)';
COMMENT ON COLUMN strategy_state.bar_ms IS 'its bar length in milliseconds';
COMMENT ON COLUMN strategy_state.processed IS 'every bar before this boundary is done and written';
COMMENT ON COLUMN strategy_state.updated_at IS 'when it last advanced';

COMMENT ON TABLE exchange_orders IS 'Every order the Binance executor sent, keyed by its idempotent client order id; API keys never go here.';
COMMENT ON COLUMN exchange_orders.client_order_id IS 'newClientOrderId / clientAlgoId, derived from the signal id (fl-<20 hex>-e, -sl, -tp1, ...)';
COMMENT ON COLUMN exchange_orders.signal_id IS 'the signal it serves';
COMMENT ON COLUMN exchange_orders.symbol IS 'the symbol';
COMMENT ON COLUMN exchange_orders.role IS 'entry | stop | tp1 | tp2 | close';
COMMENT ON COLUMN exchange_orders.side IS 'BUY | SELL';
COMMENT ON COLUMN exchange_orders.type IS 'MARKET | LIMIT | STOP_MARKET | TAKE_PROFIT_MARKET';
COMMENT ON COLUMN exchange_orders.is_algo IS 'placed on /fapi/v1/algoOrder (conditional orders since 2025-12)';
COMMENT ON COLUMN exchange_orders.qty IS 'order quantity, base asset; NULL for closePosition stops';
COMMENT ON COLUMN exchange_orders.price IS 'LIMIT price';
COMMENT ON COLUMN exchange_orders.trigger_price IS 'algo order trigger price';
COMMENT ON COLUMN exchange_orders.status IS 'SENDING (no answer seen yet) or Binance''s status (NEW, FILLED, CANCELED, ...)';
COMMENT ON COLUMN exchange_orders.exchange_order_id IS 'orderId (for an algo order: the order it triggered)';
COMMENT ON COLUMN exchange_orders.exchange_algo_id IS 'algoId';
COMMENT ON COLUMN exchange_orders.filled_qty IS 'filled quantity, base asset';
COMMENT ON COLUMN exchange_orders.avg_price IS 'average fill price';
COMMENT ON COLUMN exchange_orders.reason IS 'why it was rejected or cancelled by Flowline';
COMMENT ON COLUMN exchange_orders.created_at IS 'when it was first sent';
COMMENT ON COLUMN exchange_orders.updated_at IS 'when its state last changed';

COMMENT ON TABLE exchange_positions IS 'One row per signal the Binance executor acted on: its plan and its position''s life, reconciled with the exchange after a restart.';
COMMENT ON COLUMN exchange_positions.signal_id IS 'the signal';
COMMENT ON COLUMN exchange_positions.symbol IS 'the symbol';
COMMENT ON COLUMN exchange_positions.side IS 'LONG | SHORT';
COMMENT ON COLUMN exchange_positions.state IS 'entering | open | closed | rejected | missed';
COMMENT ON COLUMN exchange_positions.qty IS 'planned entry quantity after the exchange filters, base asset';
COMMENT ON COLUMN exchange_positions.entry_price IS 'average entry fill price';
COMMENT ON COLUMN exchange_positions.filled_qty IS 'entry quantity filled, base asset';
COMMENT ON COLUMN exchange_positions.stop_price IS 'stop-loss trigger price';
COMMENT ON COLUMN exchange_positions.targets IS 'take-profit trigger prices';
COMMENT ON COLUMN exchange_positions.breakeven IS 'true once the stop moved to the entry after target 1';
COMMENT ON COLUMN exchange_positions.reason IS 'why it was rejected, missed or closed';
COMMENT ON COLUMN exchange_positions.opened_at IS 'entry fill time';
COMMENT ON COLUMN exchange_positions.closed_at IS 'when it became flat';
COMMENT ON COLUMN exchange_positions.created_at IS 'when the executor took the signal';
COMMENT ON COLUMN exchange_positions.updated_at IS 'when its state last changed';
COMMENT ON COLUMN exchange_positions.realized_pnl IS 'Binance''s realized profit (rp) over the position''s fills, quote asset';
COMMENT ON COLUMN exchange_positions.fees IS 'commissions paid, valued in the margin asset; net = realized_pnl - fees';
COMMENT ON COLUMN indicators.cascade_side IS 'running liquidation cascade: -1 longs being liquidated (forced selling), +1 shorts being liquidated (squeeze), 0 none';
COMMENT ON COLUMN indicators.cascade_exhaustion IS 'cascade exhaustion 1 - current liquidation rate / its peak since the cascade started, 0..1; NULL without a cascade';
