-- What the coded indicator columns mean, readable from psql (\d+ indicators).
COMMENT ON COLUMN indicators.divergence IS
    'swing divergence confirmed on this bar: +1 regular bullish (lower price low, CVD low not lower), -1 regular bearish (higher price high, CVD high not higher), +2 hidden bullish (higher price low, lower CVD low), -2 hidden bearish, 0 none';
COMMENT ON COLUMN indicators.cascade_exhausted IS
    'the latest liquidation cascade is exhausted (E >= 0.8 and no new extreme for the quiet time); it stays exhausted until a new cascade starts at the start threshold';
COMMENT ON COLUMN signals.decision IS
    'accepted, or why the risk manager refused the signal (e.g. max_concurrent, max_daily_high, cooldown, max_exposure, position_open, invalid_stop, below_lot_step)';
