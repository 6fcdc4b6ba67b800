"""One package per venue: everything that knows a venue's wire format (URLs, topics, payload
fields, REST, book sync rule, id semantics). Binance still lives in ``collector/`` itself until
the seam moves it here."""
