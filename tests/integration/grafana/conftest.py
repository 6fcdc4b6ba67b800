"""One recorded session shared by the Grafana tests of this folder (about 25 s to record)."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.db_fixtures import Cluster, create_database, drop_database
from tests.integration.grafana.recording import record_with_worker


@pytest.fixture(scope="package")
def recorded_url(cluster: Cluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A database of its own holding the recording (the app role's URL)."""
    name = f"flowline_test_{secrets.token_hex(4)}"
    url = asyncio.run(create_database(cluster, name))
    spool: Path = tmp_path_factory.mktemp("grafana") / "spool"
    try:
        asyncio.run(record_with_worker(url, spool))
        yield url
    finally:
        asyncio.run(drop_database(cluster, name))
