"""The pure cores import no I/O framework: checked in a fresh interpreter."""

from __future__ import annotations

import subprocess
import sys

import pytest

PURE = [
    "evaluation_hub.audit.canonical",
    "evaluation_hub.audit.chain",
    "evaluation_hub.audit.checkpoint",
    "evaluation_hub.supervision.workdays",
    "evaluation_hub.supervision.notices",
]
FORBIDDEN = ["asyncio", "aiohttp", "redis", "sqlalchemy"]


@pytest.mark.parametrize("module", PURE)
def test_pure_module_imports_no_io_framework(module: str) -> None:
    code = f"import sys, {module}\nprint(sorted(m for m in {FORBIDDEN!r} if m in sys.modules))\n"
    out = subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True
    ).stdout
    assert out.strip() == "[]"
