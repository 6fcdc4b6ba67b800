-- The instruments as the exchange describes them (exchangeInfo), written by the recorder at start
-- and at every universe refresh: the price tick and lot step every recorded value is a multiple
-- of. The strategy sizes and rounds with them, so a live worker and a backtest use the same steps
-- whatever part of the recording each has seen. A plain table, one row per market and symbol.
CREATE TABLE symbols (
    market         text             NOT NULL,  -- usdm | spot
    symbol         text             NOT NULL,
    status         text             NOT NULL,  -- TRADING, SETTLING, BREAK, ...
    base_asset     text,
    quote_asset    text,
    contract_type  text,                       -- PERPETUAL, CURRENT_QUARTER, ...; NULL on spot
    tick_size      double precision NOT NULL,  -- PRICE_FILTER.tickSize
    step_size      double precision NOT NULL,  -- LOT_SIZE.stepSize
    min_qty        double precision,           -- LOT_SIZE.minQty
    min_notional   double precision,           -- MIN_NOTIONAL.notional (spot: NOTIONAL.minNotional)
    updated_at     timestamptz      NOT NULL,
    PRIMARY KEY (market, symbol)
);
COMMENT ON TABLE symbols IS 'The instruments as the exchange describes them (exchangeInfo), refreshed by the recorder at start and at every universe refresh. Prices are on tick_size, sizes on step_size.';
COMMENT ON COLUMN symbols.market IS 'usdm (USDⓈ-M futures) or spot';
COMMENT ON COLUMN symbols.symbol IS 'the symbol, e.g. BTCUSDT';
COMMENT ON COLUMN symbols.status IS 'exchangeInfo status: TRADING, SETTLING, BREAK, ...';
COMMENT ON COLUMN symbols.base_asset IS 'the asset sizes are counted in (BTC for BTCUSDT)';
COMMENT ON COLUMN symbols.quote_asset IS 'the asset prices are counted in (USDT)';
COMMENT ON COLUMN symbols.contract_type IS 'futures contract type (PERPETUAL, CURRENT_QUARTER, ...); NULL on spot';
COMMENT ON COLUMN symbols.tick_size IS 'PRICE_FILTER.tickSize: every price is a multiple of it';
COMMENT ON COLUMN symbols.step_size IS 'LOT_SIZE.stepSize: every order size is a multiple of it';
COMMENT ON COLUMN symbols.min_qty IS 'LOT_SIZE.minQty: the smallest order size';
COMMENT ON COLUMN symbols.min_notional IS 'the smallest order value in the quote asset (MIN_NOTIONAL.notional; spot NOTIONAL.minNotional)';
COMMENT ON COLUMN symbols.updated_at IS 'when the recorder last read it from exchangeInfo';
