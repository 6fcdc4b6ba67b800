-- The Binance executor's state (strategy/binance/): what it asked the exchange for and what it
-- believes each position is, so a restart reconciles against positionRisk and open (algo) orders
-- instead of starting blind. Small, row-updated tables: plain tables, not hypertables.
-- API keys never go here.

-- One row per order Flowline sends, keyed by the idempotent client order id derived from the
-- signal id ("fl-<20 hex of the signal id>-e", "-sl", "-tp1", ...): a retry or a restart that
-- re-sends the same order finds its row (and the exchange finds the id) instead of doubling it.
CREATE TABLE exchange_orders (
    client_order_id   text             PRIMARY KEY,  -- newClientOrderId / clientAlgoId
    signal_id         uuid             NOT NULL,
    symbol            text             NOT NULL,
    role              text             NOT NULL,     -- entry | stop | tp1 | tp2 | close
    side              text             NOT NULL,     -- BUY | SELL
    type              text             NOT NULL,     -- MARKET | LIMIT | STOP_MARKET | TAKE_PROFIT_MARKET
    is_algo           boolean          NOT NULL,     -- placed on /fapi/v1/algoOrder
    qty               double precision,              -- NULL for closePosition stops
    price             double precision,              -- LIMIT price
    trigger_price     double precision,              -- algo triggerPrice
    status            text             NOT NULL,     -- SENDING (answer not seen yet) | Binance's status
    exchange_order_id bigint,                        -- orderId (for an algo: the triggered order)
    exchange_algo_id  bigint,                        -- algoId
    filled_qty        double precision NOT NULL DEFAULT 0,
    avg_price         double precision,
    reason            text,                          -- why rejected / cancelled by us
    created_at        timestamptz      NOT NULL DEFAULT now(),
    updated_at        timestamptz      NOT NULL DEFAULT now()
);
CREATE INDEX exchange_orders_by_signal ON exchange_orders (signal_id);
CREATE INDEX exchange_orders_live ON exchange_orders (symbol)
    WHERE status IN ('SENDING', 'NEW', 'PARTIALLY_FILLED');

-- One row per signal the executor acted on: its plan and its position's life.
CREATE TABLE exchange_positions (
    signal_id     uuid             PRIMARY KEY,
    symbol        text             NOT NULL,
    side          text             NOT NULL,  -- LONG | SHORT
    state         text             NOT NULL,  -- entering | open | closed | rejected
    qty           double precision NOT NULL,  -- planned entry quantity (after filters)
    entry_price   double precision,           -- average entry fill
    filled_qty    double precision NOT NULL DEFAULT 0,
    stop_price    double precision NOT NULL,
    targets       double precision[] NOT NULL,
    breakeven     boolean          NOT NULL DEFAULT false,  -- stop moved to entry after target 1
    reason        text,                       -- why it was rejected or closed
    opened_at     timestamptz,
    closed_at     timestamptz,
    created_at    timestamptz      NOT NULL DEFAULT now(),
    updated_at    timestamptz      NOT NULL DEFAULT now()
);
-- one-way mode: at most one live position per symbol
CREATE UNIQUE INDEX exchange_positions_live ON exchange_positions (symbol)
    WHERE state IN ('entering', 'open');
