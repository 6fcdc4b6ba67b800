"""The strategies, by the name the config file uses."""

from __future__ import annotations

REGISTRY: dict[str, type] = {}
