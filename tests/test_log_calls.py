"""No log call passes ``event=``: structlog's first argument is the event, so such a call raises
TypeError instead of logging, and in an ``except`` block the original error is lost and the
calling task ends (the hub's session-move listener once died this way)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("evaluation_hub", "seat_agent", "seat_protocol", "media", "scoring", "bench")
METHODS = {"debug", "info", "warning", "warn", "error", "exception", "critical", "msg", "log"}


def test_no_log_call_passes_event_as_a_keyword() -> None:
    found = []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if (
                    isinstance(node, ast.Call)
                    and isinstance(node.func, ast.Attribute)
                    and node.func.attr in METHODS
                    and any(k.arg == "event" for k in node.keywords)
                ):
                    found.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert found == []
