-- The impact form of absorption strength, clip(1 − progress in ticks ÷ (λ̂·|delta|), 0, 1) with
-- λ̂ the recent ticks-per-delta price impact (indicators/absorption.py), next to the simple form
-- stored in `absorption`. NULL while λ̂ warms up or is not positive, or when the bar has no delta.
ALTER TABLE indicators ADD COLUMN absorption_impact double precision;
