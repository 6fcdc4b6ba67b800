"""Layers point down: the recorder never imports the strategy or the simulator, the strategy takes
from the recorder only its row types and book rules (not its process: that is runtime/), and the
simulator and the indicator library import none of our other packages (each runs and is tested
alone).
Read from the source, so a lazy import inside a function counts as much as one at the top."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
OURS = {"collector", "db", "runtime", "strategy", "sim", "indicators"} | {
    p.stem for p in ROOT.glob("*.py")
}  # top-level modules (settings, environment, demo, ...) are ours too
FORBIDDEN = {
    "collector": {"strategy", "sim", "demo", "main"},
    "strategy": {"sim", "demo", "main"},
    "runtime": {"collector", "strategy", "sim", "demo", "main"},
    "db": {"collector", "runtime", "strategy", "sim", "demo", "main"},
    "sim": OURS - {"sim"},
    "indicators": OURS - {"indicators"},
}


# The only recorder modules the strategy may read: plain row types and the books' sync rules.
STRATEGY_FROM_COLLECTOR = {"collector.rows", "collector.book", "collector.venues.binance.book"}

# What a venue package may take from the recorder's core: its leaves, never the composition
# (connections, subscriptions, leases, cli), so the core can reach every venue through the registry.
VENUE_FROM_CORE = {
    "collector.book", "collector.rows", "collector.values", "collector.events", "collector.metrics"
}  # fmt: skip


def imported_modules(path: Path) -> set[str]:
    """The full dotted name of every module a file imports (absolute imports only); ``from
    collector import metrics`` names ``collector.metrics``."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if node.module in OURS:  # a package: what it hands out are its modules
                names.update(f"{node.module}.{alias.name}" for alias in node.names)
            else:
                names.add(node.module)
    return names


def imported(path: Path) -> set[str]:
    """The top-level names of every module a file imports (absolute imports only)."""
    return {name.split(".")[0] for name in imported_modules(path)}


def test_each_package_imports_only_the_layers_below_it() -> None:
    crossings = [
        f"{path.relative_to(ROOT)} imports {name}"
        for package, banned in FORBIDDEN.items()
        for path in sorted((ROOT / package).rglob("*.py"))
        for name in sorted(imported(path) & banned)
    ]
    assert not crossings, "\n".join(crossings)


def test_the_strategy_takes_from_the_recorder_only_rows_and_book_rules() -> None:
    borrowed = [
        f"{path.relative_to(ROOT)} imports {name}"
        for path in sorted((ROOT / "strategy").rglob("*.py"))
        for name in sorted(imported_modules(path))
        if name.split(".")[0] == "collector" and name not in STRATEGY_FROM_COLLECTOR
    ]
    assert not borrowed, "\n".join(borrowed)


def test_a_venue_takes_from_the_core_only_its_leaves_and_nothing_from_another_venue() -> None:
    venues = ROOT / "collector" / "venues"
    crossings = [
        f"{path.relative_to(ROOT)} imports {name}"
        for package in sorted(p for p in venues.iterdir() if (p / "__init__.py").exists())
        for path in sorted(package.rglob("*.py"))
        for name in sorted(imported_modules(path))
        if name.split(".")[0] == "collector"
        and not name.startswith(f"collector.venues.{package.name}")
        and name not in VENUE_FROM_CORE
    ]
    assert not crossings, "\n".join(crossings)


def test_the_check_sees_an_import_inside_a_function(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text(
        "def f():\n    from strategy.cli import run_strategy\n    import sim.server\n"
    )
    assert imported(module) == {"strategy", "sim"}


def test_the_check_names_the_module_taken_from_a_package(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text("from collector import cli, rows\nfrom collector.venues import VENUES\n")
    assert imported_modules(module) == {"collector.cli", "collector.rows", "collector.venues"}
