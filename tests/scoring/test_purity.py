"""`scoring` is a pure core: it imports no I/O, no clock-driven framework, no other package."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SCORING = Path(__file__).resolve().parents[2] / "scoring"
FORBIDDEN = {
    "asyncio",
    "aiohttp",
    "sqlalchemy",
    "redis",
    "os",
    "pathlib",
    "socket",
    "evaluation_hub",
    "seat_agent",
    "media",
    "time",
    "random",
    "secrets",
    "subprocess",
}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text("utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


MODULES = sorted(SCORING.glob("*.py"))


def test_every_module_is_checked() -> None:
    assert {p.stem for p in MODULES} >= {
        "aggregation",
        "anonymity",
        "errors",
        "model",
        "package",
        "price",
        "review",
        "sheets",
        "shuffle",
        "signing",
        "similarity",
    }


@pytest.mark.parametrize("path", MODULES, ids=lambda p: p.stem)
def test_no_io_imports(path: Path) -> None:
    assert _imports(path) & FORBIDDEN == set()


def test_the_check_sees_a_forbidden_import(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("import os.path\nfrom evaluation_hub.bids import cli\n")
    assert _imports(bad) & FORBIDDEN == {"os", "evaluation_hub"}
