"""The venue registry: every venue package has its row, and every row's parts read that venue."""

from __future__ import annotations

from pathlib import Path

import collector.venues
from collector.venues import VENUES

VENUES_DIR = Path(collector.venues.__file__).parent


def test_every_venue_package_has_one_row_under_its_own_name() -> None:
    packages = {p.parent.name for p in VENUES_DIR.glob("*/__init__.py")}
    assert packages == set(VENUES)
    assert all(venue.name == key for key, venue in VENUES.items())


def test_each_rows_parts_come_from_its_own_package() -> None:
    for name, venue in VENUES.items():
        parts = [venue.streams, venue.ws_url, venue.budget, venue.rest, venue.book]
        parts += [venue.trade_ids, venue.backfill, venue.top_symbols, *venue.parsers.values()]
        foreign = [
            f"{part.__module__}.{part.__qualname__}"
            for part in parts
            if part is not None and not part.__module__.startswith(f"collector.venues.{name}.")
        ]
        assert not foreign, f"{name}: {foreign}"
