"""Bybit v5 linear (USDT perpetuals): payload parsing and the order-book sync rule."""
