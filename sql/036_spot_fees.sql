-- Spot deals' PnL net of commission: the commission Binance takes in the asset received (the
-- BUY's in the base asset, the SELL's in the quote asset), valued in the quote asset at the
-- fill price and taken out of pnl. Deals closed before this migration keep their gross pnl
-- (fees 0): the rates they paid were not kept.
ALTER TABLE spot_deals ADD COLUMN fees double precision NOT NULL DEFAULT 0;
COMMENT ON COLUMN spot_deals.fees IS 'commission of the closed deal in the quote asset: the BUY''s (taken in the base asset, valued at the fill price) plus the SELL''s, at the account''s commission rates (maker for LIMIT, taker for MARKET); 0 for deals closed before sql/036';
COMMENT ON COLUMN spot_deals.pnl IS 'quote PnL of the closed deal, net of commission: sold × exit price − sold × fill price − fees (deals closed before sql/036: before commission)';
COMMENT ON COLUMN spot_deals.reason IS 'why the deal ended: target, stop_emergency, stop_critical, stop_warning, flatten (python main.py flatten; set on the open deals buying or selling before it cancels their orders, so a running worker leaves them to it), buy not filled, rejected by filters';
