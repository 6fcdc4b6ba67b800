"""The recorder: a venue-neutral core (connections, subscriptions, books, gaps, leases, rows) and
one package per venue that owns its wire format (``venues/``, registry in its ``__init__``)."""
