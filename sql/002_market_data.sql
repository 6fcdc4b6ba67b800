-- Market-data hypertables, one per Binance payload. Conventions:
--   time         the table's partitioning column, from the exchange's millisecond field (UTC)
--   symbol       as Binance spells it (BTCUSDT)
--   market       'usdm' (USD-M futures) or 'spot'
--   received_at  the recorder's clock when the frame/response arrived (lag = received_at - time)
--   extra        payload keys this schema does not know yet (Binance adds fields over time); NULL if none
-- Prices and quantities are double precision: every decimal string Binance sends (<= 15 significant
-- digits) round-trips exactly through float8 (tested in tests/unit/collector).
-- Each table has ONE unique index, leading with (symbol, time): it makes writes idempotent and also
-- serves "latest rows of a symbol" reads (a second index halves COPY throughput).

CREATE TABLE agg_trades (
    time            timestamptz      NOT NULL,  -- T trade time
    symbol          text             NOT NULL,  -- s
    market          text             NOT NULL DEFAULT 'usdm',
    agg_trade_id    bigint           NOT NULL,  -- a (consecutive per symbol: gaps are detected on it)
    price           double precision NOT NULL,  -- p
    qty             double precision NOT NULL,  -- q (includes RPI fills)
    normal_qty      double precision,           -- nq: qty excluding RPI fills (newer field; NULL if absent)
    first_trade_id  bigint           NOT NULL,  -- f
    last_trade_id   bigint           NOT NULL,  -- l
    is_buyer_maker  boolean          NOT NULL,  -- m: true = the aggressor sold
    event_time      timestamptz,                -- E; NULL for rows backfilled from REST /aggTrades
    received_at     timestamptz      NOT NULL,
    extra           jsonb
);
SELECT create_hypertable('agg_trades', by_range('time', INTERVAL '1 day'), create_default_indexes => false);
CREATE UNIQUE INDEX agg_trades_key ON agg_trades (symbol, time DESC, agg_trade_id, market);

CREATE TABLE depth_updates (
    time                  timestamptz        NOT NULL,  -- E event time
    symbol                text               NOT NULL,
    market                text               NOT NULL DEFAULT 'usdm',
    transaction_time      timestamptz,                  -- T (futures only)
    first_update_id       bigint             NOT NULL,  -- U
    final_update_id       bigint             NOT NULL,  -- u
    prev_final_update_id  bigint,                       -- pu (futures chain: pu = previous u); NULL on spot
    bid_prices            double precision[] NOT NULL,  -- b, absolute quantities; qty 0 removes the level
    bid_qtys              double precision[] NOT NULL,
    ask_prices            double precision[] NOT NULL,  -- a
    ask_qtys              double precision[] NOT NULL,
    received_at           timestamptz        NOT NULL,
    extra                 jsonb
);
SELECT create_hypertable('depth_updates', by_range('time', INTERVAL '6 hours'), create_default_indexes => false);
CREATE UNIQUE INDEX depth_updates_key ON depth_updates (symbol, time DESC, final_update_id, market);

CREATE TABLE depth_snapshots (
    time              timestamptz        NOT NULL,  -- when the recorder received the REST response
    symbol            text               NOT NULL,
    market            text               NOT NULL DEFAULT 'usdm',
    last_update_id    bigint             NOT NULL,  -- lastUpdateId
    event_time        timestamptz,                  -- E
    transaction_time  timestamptz,                  -- T
    reason            text               NOT NULL,  -- start | resync | periodic
    bid_prices        double precision[] NOT NULL,
    bid_qtys          double precision[] NOT NULL,
    ask_prices        double precision[] NOT NULL,
    ask_qtys          double precision[] NOT NULL,
    received_at       timestamptz        NOT NULL,
    extra             jsonb
);
SELECT create_hypertable('depth_snapshots', by_range('time', INTERVAL '1 day'), create_default_indexes => false);
CREATE UNIQUE INDEX depth_snapshots_key ON depth_snapshots (symbol, time DESC, last_update_id, market);

CREATE TABLE book_top (
    time            timestamptz        NOT NULL,  -- the recorder's clock, every BOOK_TOP_INTERVAL
    symbol          text               NOT NULL,
    market          text               NOT NULL DEFAULT 'usdm',
    last_update_id  bigint             NOT NULL,  -- u of the last diff applied to the local book
    event_time      timestamptz,                  -- E of that diff
    best_bid_price  double precision,
    best_bid_qty    double precision,
    best_ask_price  double precision,
    best_ask_qty    double precision,
    bid_prices      double precision[] NOT NULL,  -- best first, BOOK_TOP_LEVELS deep
    bid_qtys        double precision[] NOT NULL,
    ask_prices      double precision[] NOT NULL,
    ask_qtys        double precision[] NOT NULL
);
SELECT create_hypertable('book_top', by_range('time', INTERVAL '1 day'), create_default_indexes => false);
CREATE UNIQUE INDEX book_top_key ON book_top (symbol, time DESC, market);

CREATE TABLE mark_prices (
    time                    timestamptz      NOT NULL,  -- E
    symbol                  text             NOT NULL,
    mark_price              double precision NOT NULL,  -- p
    index_price             double precision,           -- i
    estimated_settle_price  double precision,           -- P
    funding_rate            double precision,           -- r ("" for delivery contracts -> NULL)
    next_funding_time       timestamptz,                -- T (NULL when 0)
    mark_price_avg          double precision,           -- ap (newer field)
    received_at             timestamptz      NOT NULL,
    extra                   jsonb
);
SELECT create_hypertable('mark_prices', by_range('time', INTERVAL '1 day'), create_default_indexes => false);
CREATE UNIQUE INDEX mark_prices_key ON mark_prices (symbol, time DESC);

CREATE TABLE force_orders (
    time             timestamptz      NOT NULL,  -- E
    symbol           text             NOT NULL,  -- o.s
    side             text             NOT NULL,  -- o.S: SELL = a long was liquidated
    order_type       text             NOT NULL,  -- o.o
    time_in_force    text             NOT NULL,  -- o.f
    orig_qty         double precision NOT NULL,  -- o.q
    price            double precision NOT NULL,  -- o.p
    avg_price        double precision NOT NULL,  -- o.ap
    status           text             NOT NULL,  -- o.X
    last_filled_qty  double precision NOT NULL,  -- o.l
    filled_qty       double precision NOT NULL,  -- o.z
    trade_time       timestamptz      NOT NULL,  -- o.T
    received_at      timestamptz      NOT NULL,
    extra            jsonb
);
-- Binance gives liquidations no id and samples them (<= 1 per symbol per second), so the key is
-- the whole identifying content of the event.
SELECT create_hypertable('force_orders', by_range('time', INTERVAL '7 days'), create_default_indexes => false);
CREATE UNIQUE INDEX force_orders_key ON force_orders (symbol, time DESC, trade_time, side, price, filled_qty);

CREATE TABLE open_interest (
    time           timestamptz      NOT NULL,  -- time of the REST response
    symbol         text             NOT NULL,
    open_interest  double precision NOT NULL,  -- openInterest, in contracts (base asset)
    received_at    timestamptz      NOT NULL,
    extra          jsonb
);
SELECT create_hypertable('open_interest', by_range('time', INTERVAL '7 days'), create_default_indexes => false);
CREATE UNIQUE INDEX open_interest_key ON open_interest (symbol, time DESC);
