-- Exits on the Binance executor (strategy/exits.py rules, as the paper executor applies them):
-- the stop that must be open now (moved by breakeven_pct / trailing, each move a new client id,
-- so a restart's reconciliation restores the moved stop, not the first one), and how and when
-- the position ended, on the exchange's clock, to compare with the paper executor's exits.
ALTER TABLE exchange_positions
    ADD COLUMN stop_role text NOT NULL DEFAULT 'stop',
    ADD COLUMN exit_kind text,
    ADD COLUMN exit_time timestamptz;
COMMENT ON COLUMN exchange_positions.stop_role IS 'role of the stop order that must be open: stop | breakeven | move1, move2 … (trailing moves; client ids -m1, -m2 …)';
COMMENT ON COLUMN exchange_positions.exit_kind IS 'how it ended, as the paper executor names exits: stop | breakeven | trailing | target | time | a strategy exit (density_erosion, stop_warning …) | flatten | …';
COMMENT ON COLUMN exchange_positions.exit_time IS 'exchange time of the exit: the bar close that decided a time or strategy exit, the trigger time of a stop or target';
COMMENT ON COLUMN exchange_positions.stop_price IS 'the stop now open (moved by breakeven and trailing), at first the signal''s stop';
COMMENT ON COLUMN exchange_positions.opened_at IS 'exchange time of the entry fill (its updateTime); max_hold counts from it';
COMMENT ON COLUMN exchange_orders.role IS 'entry (entry1 … entry9: the entry re-placed after its timeout) | stop | breakeven | move1, move2 … (the stop moved by trailing) | tp1 | tp2 | close';
-- positions open across the upgrade whose stop moved to breakeven after target 1
UPDATE exchange_positions SET stop_role = 'breakeven', stop_price = entry_price
WHERE breakeven AND entry_price IS NOT NULL AND state IN ('entering', 'open');
