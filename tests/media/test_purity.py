"""Only the forwarder reaches into aiortc's internals (media/_aiortc_internals.py is pinned to one
aiortc series). Purity and the direction of imports are tests/test_architecture.py's."""

from __future__ import annotations

import ast
from pathlib import Path

import media

PACKAGE = Path(media.__file__).parent


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
