"""The access rules are a pure core: importing them loads no I/O library."""

from __future__ import annotations

import subprocess
import sys


def test_access_rules_import_no_io() -> None:
    code = (
        "import sys, evaluation_hub.access, evaluation_hub.supervision.notices;"
        "print(sorted(m for m in ('asyncio', 'aiohttp', 'sqlalchemy', 'redis') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
