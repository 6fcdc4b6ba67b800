"""The strategy worker: indicators, strategies, risk and executors over the recorded tables."""
