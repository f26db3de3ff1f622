"""The layout's promises, checked one way: a walk of the import graph of the five packages.

Per package, what it may import (``MAY_IMPORT``); the pure cores (``PURE_CORES``), whose whole
import closure holds no I/O machinery and no module that is not itself pure; only the shells
(HTTP and the seat websocket under ``evaluation_hub.api``, the CLI, the demo) import aiohttp or
``evaluation_hub.api``; no folder of the hub imports a folder that imports it back; and no
production module grows past 500 lines (the seat protocol's message catalogue excepted).

This replaces the per-package purity tests that were here before (``tests/scoring/test_purity``,
``tests/seat_protocol/test_purity``, ``tests/media/test_purity``'s purity half and
``tests/hub/test_allocation::test_allocation_is_a_pure_core``): their promises are rows of the
tables below.

Imports are read from the source with ``ast`` (nothing is imported): every ``import`` and
``from … import`` at any depth of a module counts, lazy ones included, except those under
``if TYPE_CHECKING:``, which never run.
"""

from __future__ import annotations

import ast
import functools
from collections.abc import Iterable
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("evaluation_hub", "seat_agent", "seat_protocol", "scoring", "media")

#: What each package may import of the others (besides itself).
MAY_IMPORT: dict[str, frozenset[str]] = {
    "scoring": frozenset(),
    "seat_protocol": frozenset(),
    "media": frozenset(),
    "seat_agent": frozenset({"seat_protocol", "scoring", "media"}),
    "evaluation_hub": frozenset({"seat_protocol", "scoring", "media"}),
}

#: Machinery a pure core never reaches, however indirectly: I/O, clocks, randomness.
IO = frozenset(
    {
        "os",
        "pathlib",
        "time",
        "random",
        "secrets",
        "asyncio",
        "aiohttp",
        "aiosqlite",
        "asyncpg",
        "sqlalchemy",
        "websockets",
        "redis",
        "aiortc",
        "av",
        "cv2",
        "socket",
        "subprocess",
        "threading",
    }
)

#: The pure cores: protocols, state machines, rules, access, scoring. A name ending in ``.*``
#: is a whole package.
PURE_CORES = (
    "scoring.*",
    "seat_protocol.*",
    "evaluation_hub.access",
    "evaluation_hub.errors",
    "evaluation_hub.principal",
    "evaluation_hub.localtime",
    "evaluation_hub.regulation",
    "evaluation_hub.booking.rules",
    "evaluation_hub.booking.allocation.*",
    "evaluation_hub.checkin.rules",
    "evaluation_hub.evaluation.rules",
    "evaluation_hub.evaluation.signals",
    "evaluation_hub.sessions.lifecycle",
    "evaluation_hub.sessions.committee",
    "evaluation_hub.sessions.outage",
    "evaluation_hub.sessions.cutoff",
    "evaluation_hub.sessions.states",
    "evaluation_hub.sessions.errors",
    "evaluation_hub.supervision.notices",
    "evaluation_hub.supervision.workdays",
    "media.conduct",
    "media.fanout",
    "media.errors",
    "media.segmenting",
)

#: Pure cores allowed one of the ``IO`` names, and why.
PURE_EXCEPTIONS = {
    # Fresh nonces for encryption come from the OS's CSPRNG, as cryptography's own key
    # generation does inside the same function; they decide nothing a test must replay.
    ("seat_protocol.chapter_crypto", "os"),
    # SM2's per-signature secret k and key generation must come from a CSPRNG (gmssl's own
    # default is the random module); like Ed25519's, they decide nothing a test must replay.
    ("seat_protocol.sm2", "secrets"),
    ("seat_protocol.suites", "secrets"),
}

#: Where aiohttp and the HTTP layer may be imported.
SHELLS = ("evaluation_hub.api", "evaluation_hub.cli", "evaluation_hub.demo")

#: Production modules allowed past 500 lines, and why.
LONG_MODULES = {
    # One class per wire message with its validation: splitting it would split the catalogue
    # that docs/seat-protocol.md mirrors.
    "seat_protocol.messages",
}
MAX_LINES = 500


def _module_files() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            rel = path.relative_to(ROOT).with_suffix("")
            if "migrations" in rel.parts:
                continue  # Alembic's files are data for the migration tool
            parts = list(rel.parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


MODULES = _module_files()


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _walk_runtime(tree: ast.AST) -> Iterable[ast.AST]:
    """Every node except the bodies of ``if TYPE_CHECKING:``."""
    stack = [tree]
    while stack:
        node = stack.pop()
        yield node
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _is_type_checking(child):
                stack.extend(child.orelse)
                continue
            stack.append(child)


def imports_in(source: str, module: str, is_package: bool = False) -> set[str]:
    """The dotted names a module's source imports at run time (``from a import b`` counts as
    ``a.b`` when that is one of our modules, else ``a``)."""
    names: set[str] = set()
    for node in _walk_runtime(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".")
                base = base if is_package else base[:-1]
                base = base[: len(base) - (node.level - 1)]
                target = ".".join([*base, *([node.module] if node.module else [])])
            else:
                target = node.module or ""
            names.add(target)
            for alias in node.names:
                if f"{target}.{alias.name}" in MODULES:
                    names.add(f"{target}.{alias.name}")
    return names


@functools.cache
def direct_imports(module: str) -> frozenset[str]:
    path = MODULES[module]
    return frozenset(imports_in(path.read_text("utf-8"), module, path.name == "__init__.py"))


def _ours(name: str) -> str | None:
    """The module of ours a dotted import name refers to (its longest known prefix)."""
    parts = name.split(".")
    for end in range(len(parts), 0, -1):
        candidate = ".".join(parts[:end])
        if candidate in MODULES:
            return candidate
    return None


@functools.cache
def closure(module: str) -> tuple[frozenset[str], frozenset[str]]:
    """(our modules, external top-level names) reachable from ``module`` at run time."""
    ours: set[str] = set()
    external: set[str] = set()
    todo = [module]
    while todo:
        current = todo.pop()
        if current in ours:
            continue
        ours.add(current)
        # Importing a.b.c runs a and a.b first.
        parts = current.split(".")
        todo.extend(
            ".".join(parts[:end])
            for end in range(1, len(parts))
            if ".".join(parts[:end]) in MODULES
        )
        for name in direct_imports(current):
            mine = _ours(name)
            if mine is None:
                external.add(name.split(".")[0])
            else:
                todo.append(mine)
    return frozenset(ours), frozenset(external)


def _matches(module: str, patterns: Iterable[str]) -> bool:
    for pattern in patterns:
        if pattern.endswith(".*"):
            base = pattern[:-2]
            if module == base or module.startswith(base + "."):
                return True
        elif module == pattern or module.startswith(pattern + "."):
            return True
    return False


PURE = sorted(m for m in MODULES if _matches(m, PURE_CORES))


def test_every_pure_core_exists() -> None:
    for pattern in PURE_CORES:
        base = pattern.removesuffix(".*")
        assert base in MODULES, f"{pattern} names no module: update PURE_CORES"


#: The demo plays seat terminals beside the hub: it may start and prepare seat agents.
DEMO = "evaluation_hub.demo"


@pytest.mark.parametrize("module", sorted(MODULES), ids=str)
def test_packages_depend_one_way(module: str) -> None:
    package = module.split(".", maxsplit=1)[0]
    allowed = MAY_IMPORT[package] | {package}
    if _matches(module, [DEMO]):
        allowed |= {"seat_agent"}
    reached = {
        mine.split(".")[0] for name in direct_imports(module) if (mine := _ours(name)) is not None
    }
    assert reached <= allowed, f"{module} imports {sorted(reached - allowed)}"


@pytest.mark.parametrize("module", PURE, ids=str)
def test_pure_cores_do_no_io(module: str) -> None:
    ours, external = closure(module)
    excused = {name for mod, name in PURE_EXCEPTIONS if mod in ours}
    reached = external & IO - excused
    assert reached == set(), f"{module} reaches {sorted(reached)}"
    # A package's __init__ runs on the way in; its own imports are in the closure and checked.
    impure = sorted(
        m for m in ours if not _matches(m, PURE_CORES) and MODULES[m].name != "__init__.py"
    )
    assert impure == [], f"{module} reaches modules that are not pure cores: {impure}"


@pytest.mark.parametrize(
    "module", sorted(m for m in MODULES if m.startswith("evaluation_hub.")), ids=str
)
def test_only_shells_import_http(module: str) -> None:
    if _matches(module, SHELLS):
        return
    imported = direct_imports(module)
    assert not any(n == "aiohttp" or n.startswith("aiohttp.") for n in imported), module
    assert not any(
        n == "evaluation_hub.api" or n.startswith("evaluation_hub.api.") for n in imported
    ), module


def _folder(module: str) -> str | None:
    """The hub's folder (sub-package) a module lives in; None for a top-level module."""
    parts = module.split(".")
    if parts[0] != "evaluation_hub" or len(parts) < 2:
        return None
    return parts[1] if (ROOT / "evaluation_hub" / parts[1]).is_dir() else None


def test_no_folder_cycles() -> None:
    """No folder of the hub imports a folder that imports it back, directly or round a ring.
    (Top-level modules such as ``config`` or ``services`` are shared vocabulary, not folders.)"""
    edges: dict[str, set[str]] = {}
    for module in MODULES:
        here = _folder(module)
        if here is None:
            continue
        for name in direct_imports(module):
            mine = _ours(name)
            there = _folder(mine) if mine is not None else None
            if there is not None and there != here:
                edges.setdefault(here, set()).add(there)
    cycles = []
    for start in edges:
        seen: set[str] = set()
        stack = [(start, [start])]
        while stack:
            node, path = stack.pop()
            for nxt in edges.get(node, ()):
                if nxt == start:
                    cycles.append(" -> ".join([*path, start]))
                elif nxt not in seen:
                    seen.add(nxt)
                    stack.append((nxt, [*path, nxt]))
    assert cycles == []


@pytest.mark.parametrize("module", sorted(MODULES), ids=str)
def test_modules_stay_small(module: str) -> None:
    if module in LONG_MODULES:
        return
    lines = MODULES[module].read_text("utf-8").count("\n")
    assert lines <= MAX_LINES, f"{module} has {lines} lines"


def test_the_walk_sees_what_it_checks() -> None:
    source = (
        "from typing import TYPE_CHECKING\n"
        "import os.path\n"
        "from evaluation_hub.api import app\n"
        "from . import rules\n"
        "if TYPE_CHECKING:\n"
        "    import sqlalchemy\n"
        "def lazy():\n"
        "    import aiohttp\n"
    )
    found = imports_in(source, "evaluation_hub.booking.seatings")
    assert {"os.path", "evaluation_hub.api.app", "evaluation_hub.booking.rules", "aiohttp"} <= found
    assert "sqlalchemy" not in found
    # The closure follows our modules: the seat websocket shell reaches aiohttp.
    assert "aiohttp" in closure("evaluation_hub.api.seat_link")[1]
