-- The spot executor's deals (strategy/spot/, seed 003's Deal): one BUY, then one SELL at the
-- markup above its fill, or a MARKET SELL when the stop monitor fires. Written before each order
-- is sent (the order's client id derives from deal_id, state and attempt), so after a restart
-- the exchange can be asked what became of it.
CREATE TABLE spot_deals (
    deal_id      uuid             PRIMARY KEY,
    symbol       text             NOT NULL,
    strategy     text             NOT NULL,
    state        text             NOT NULL,
    quota        double precision NOT NULL,
    markup       double precision NOT NULL,
    stop_frac    double precision NOT NULL,
    attempt      integer          NOT NULL DEFAULT 0,
    buy_price    double precision NOT NULL,
    buy_qty      double precision NOT NULL,
    placed_ms    bigint           NOT NULL DEFAULT 0,
    filled_qty   double precision NOT NULL DEFAULT 0,
    fill_price   double precision,
    sell_price   double precision,
    sell_qty     double precision,
    exit_price   double precision,
    pnl          double precision,
    reason       text,
    created_at   timestamptz      NOT NULL DEFAULT now(),
    updated_at   timestamptz      NOT NULL DEFAULT now(),
    closed_at    timestamptz
);
CREATE INDEX spot_deals_open ON spot_deals (symbol) WHERE state IN ('buying', 'selling', 'stopping');

COMMENT ON TABLE spot_deals IS 'One row per spot deal of the spot executor (EXECUTION=binance-spot): a LIMIT BUY re-placed after its lifetime, then a LIMIT SELL at the markup above the fill, or a MARKET SELL by the stop monitor; written before each order is sent, reconciled with the exchange after a restart.';
COMMENT ON COLUMN spot_deals.deal_id IS 'the accepted signal''s signal_id; client order ids are fls- + its first 20 hex digits + b<attempt> | s | x';
COMMENT ON COLUMN spot_deals.symbol IS 'the spot pair, e.g. BTCUSDT';
COMMENT ON COLUMN spot_deals.strategy IS 'the strategy whose signal opened the deal (its exit_on_bar is the stop monitor''s book-reading levels)';
COMMENT ON COLUMN spot_deals.state IS 'buying | selling | stopping | closed | cancelled (the buy never filled within its attempts) | rejected';
COMMENT ON COLUMN spot_deals.quota IS 'quote amount (USDT) the deal may buy for: the pair''s deal quota';
COMMENT ON COLUMN spot_deals.markup IS 'the SELL''s price above the buy fill, as a fraction (profit_markup, capped by the signal''s target)';
COMMENT ON COLUMN spot_deals.stop_frac IS 'the hard (emergency) stop below the buy fill, as a fraction';
COMMENT ON COLUMN spot_deals.attempt IS 'the current BUY attempt, 0 first; each re-placement after order_lifetime adds one';
COMMENT ON COLUMN spot_deals.buy_price IS 'the current BUY''s LIMIT price (the signal price, then the best bid when re-placed)';
COMMENT ON COLUMN spot_deals.buy_qty IS 'the current BUY''s quantity in the base asset';
COMMENT ON COLUMN spot_deals.placed_ms IS 'when the current BUY was placed (epoch ms, local clock): its lifetime runs from here';
COMMENT ON COLUMN spot_deals.filled_qty IS 'base quantity the BUY filled';
COMMENT ON COLUMN spot_deals.fill_price IS 'average price of the BUY''s fills';
COMMENT ON COLUMN spot_deals.sell_price IS 'the LIMIT SELL''s price (fill price × (1 + markup))';
COMMENT ON COLUMN spot_deals.sell_qty IS 'base quantity sold: the fill less the commission taken in the base asset, rounded down to the step';
COMMENT ON COLUMN spot_deals.exit_price IS 'average price of the closing SELL';
COMMENT ON COLUMN spot_deals.pnl IS 'quote PnL of the closed deal, before commission: sold × exit price − sold × fill price';
COMMENT ON COLUMN spot_deals.reason IS 'why the deal ended: target, stop_emergency, stop_critical, stop_warning, buy not filled, rejected by filters';
COMMENT ON COLUMN spot_deals.created_at IS 'when the executor took the signal';
COMMENT ON COLUMN spot_deals.updated_at IS 'last change of the row';
COMMENT ON COLUMN spot_deals.closed_at IS 'when the deal ended';
