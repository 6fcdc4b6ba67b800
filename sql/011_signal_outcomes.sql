-- How each accepted signal ended (or would have): with EXECUTION=off the worker tracks a
-- hypothetical position per accepted signal from the recorded trades, by the paper executor's
-- rules (entry at the next trade, stop, targets, breakeven, time exit), so the risk manager frees
-- the symbol when it ends; with EXECUTION=paper the paper position's own outcome. The tracked
-- positions themselves are `positions` rows with mode 'off' (no fills). A config fingerprint on
-- the worker's watermark row lets a restart tell a changed config from the one it resumes.
ALTER TABLE signals
    ADD COLUMN outcome       text,
    ADD COLUMN outcome_time  timestamptz,
    ADD COLUMN outcome_price double precision,
    ADD COLUMN outcome_pnl   double precision,
    ADD COLUMN outcome_r     double precision;
COMMENT ON COLUMN signals.outcome IS
    'NULL: not accepted (or EXECUTION=binance, see exchange_positions); pending | open while '
    'tracked; then how it ended: stop | target | breakeven | time | end_of_data | symbol_removed';
COMMENT ON COLUMN signals.outcome_time IS 'when the tracked position ended (NULL while tracked)';
COMMENT ON COLUMN signals.outcome_price IS
    'quantity-weighted exit price of the tracked position (with two targets, over both exits)';
COMMENT ON COLUMN signals.outcome_pnl IS
    'PnL net of paper fees and slippage, in quote currency, for the quantity the risk manager gave';
COMMENT ON COLUMN signals.outcome_r IS
    'outcome_pnl in units of the risk taken: qty x |entry - stop| (1 = the planned risk won, -1 = lost)';
COMMENT ON COLUMN positions.mode IS
    'paper: a paper-traded position; off: the hypothetical position of a signals-only worker';

ALTER TABLE positions ADD COLUMN worker text;
COMMENT ON COLUMN positions.worker IS
    'the worker_name that opened it (NULL: before this column): a restart restores only its own';

ALTER TABLE strategy_state ADD COLUMN config_fingerprint text;
COMMENT ON COLUMN strategy_state.config_fingerprint IS
    'hash of the settings that shape what the worker computes; a restart under the same worker '
    'name with another config is refused unless started with --reset';
