-- A LIMIT entry re-placed at the best bid/ask after its timeout (LIMIT_ENTRY_REPLACES) is a new
-- order of the same signal: roles entry1 ... entry9 (client ids ending -e1 ... -e9).
COMMENT ON COLUMN exchange_orders.role IS 'entry (entry1 … entry9: the entry re-placed after its timeout) | stop | breakeven | tp1 | tp2 | close';
