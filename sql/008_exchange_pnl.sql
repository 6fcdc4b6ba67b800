-- Realized PnL of each exchange position, from the user-data stream's fills: the exchange's own
-- realized profit (`rp`) and the commissions paid in the margin asset (`n` when `N` is it).
-- Net = realized_pnl - fees; the risk manager's loss streak counts it.
ALTER TABLE exchange_positions
    ADD COLUMN realized_pnl double precision NOT NULL DEFAULT 0,
    ADD COLUMN fees         double precision NOT NULL DEFAULT 0;
