"""Layers point down: the recorder never imports the strategy or the simulator, and the simulator
and the indicator library import none of our other packages (each runs and is tested alone).
Read from the source, so a lazy import inside a function counts as much as one at the top."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
OURS = {"collector", "db", "strategy", "sim", "indicators"} | {
    p.stem for p in ROOT.glob("*.py")
}  # top-level modules (settings, environment, demo, ...) are ours too
FORBIDDEN = {
    "collector": {"strategy", "sim", "demo", "main"},
    "db": {"collector", "strategy", "sim", "demo", "main"},
    "sim": OURS - {"sim"},
    "indicators": OURS - {"indicators"},
}


def imported(path: Path) -> set[str]:
    """The top-level names of every module a file imports (absolute imports only)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def test_each_package_imports_only_the_layers_below_it() -> None:
    crossings = [
        f"{path.relative_to(ROOT)} imports {name}"
        for package, banned in FORBIDDEN.items()
        for path in sorted((ROOT / package).rglob("*.py"))
        for name in sorted(imported(path) & banned)
    ]
    assert not crossings, "\n".join(crossings)


def test_the_check_sees_an_import_inside_a_function(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text(
        "def f():\n    from strategy.cli import run_strategy\n    import sim.server\n"
    )
    assert imported(module) == {"strategy", "sim"}
