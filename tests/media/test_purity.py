"""The pure modules of ``media`` import no I/O machinery, and ``media`` imports no app code."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import media

PACKAGE = Path(media.__file__).parent
FORBIDDEN_IN_PURE = {"asyncio", "aiortc", "av", "cv2", "aiohttp", "redis", "sqlalchemy"}


def imported_roots(path: Path) -> set[str]:
    roots = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            roots |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            roots.add(node.module.split(".")[0])
    return roots


@pytest.mark.parametrize("module", ["conduct.py", "fanout.py", "errors.py", "segmenting.py"])
def test_pure_modules_do_no_io(module: str) -> None:
    assert imported_roots(PACKAGE / module) & FORBIDDEN_IN_PURE == set()


@pytest.mark.parametrize("path", sorted(PACKAGE.glob("*.py")), ids=lambda p: p.name)
def test_media_never_imports_the_hub_or_the_agent(path: Path) -> None:
    assert imported_roots(path) & {"evaluation_hub", "seat_agent"} == set()


def imports_internals(path: Path) -> bool:
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            names = {f"{node.module}.{alias.name}" for alias in node.names} | {node.module}
            if "media._aiortc_internals" in names:
                return True
        elif isinstance(node, ast.Import) and any(
            alias.name == "media._aiortc_internals" for alias in node.names
        ):
            return True
    return False


def test_only_forwarding_touches_the_aiortc_internals() -> None:
    users = {path.name for path in PACKAGE.glob("*.py") if imports_internals(path)}
    assert users == {"forwarding.py"}
