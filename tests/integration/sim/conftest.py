"""The simulator fixtures, until the root conftest registers tests.sim_fixtures as a plugin."""

from tests.sim_fixtures import http, sim, sim_live  # noqa: F401
