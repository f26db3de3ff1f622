"""`evaluation-hub draw verify`: re-derive a revealed random seat draw (两随机) offline.

Takes the JSON that `GET /api/sessions/{id}/draw` returns once the session has started (the
commitment published before, the revealed seed and the draw's canonical inputs), checks the
seed and inputs against the commitment, and prints where every expert was drawn to sit, so
anyone can compare it with the bookings that were made. Needs no database and no hub.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from evaluation_hub.booking.allocation import inputs_from_canonical, verify_draw
from evaluation_hub.errors import AllocationError

__all__ = ["add_commands", "run_verify"]


def add_commands(subparsers: Any) -> None:
    draw = subparsers.add_parser("draw", help="random seat draws (两随机)")
    commands = draw.add_subparsers(dest="draw_command", required=True)
    verify = commands.add_parser(
        "verify",
        help="re-derive a revealed draw and check it against its commitment",
        description="FILE is the JSON of GET /api/sessions/{id}/draw after the session started.",
    )
    verify.add_argument("file", type=Path)
    verify.set_defaults(func=run_verify)


def run_verify(args: argparse.Namespace) -> int:
    try:
        doc = json.loads(args.file.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        print(f"draw verify: cannot read {args.file}: {exc}", file=sys.stderr)
        return 2
    if not isinstance(doc, dict) or not doc.get("revealed"):
        print(
            "draw verify: the draw is not revealed yet (the seed is published when the session "
            "starts)",
            file=sys.stderr,
        )
        return 2
    try:
        inputs = inputs_from_canonical(doc["inputs"])
        result = verify_draw(bytes.fromhex(doc["seed"]), doc["commitment"], inputs)
    except AllocationError as exc:
        print(exc, file=sys.stderr)
        for reason in exc.reasons:
            print(f"  {reason}", file=sys.stderr)
        return 1
    except (KeyError, TypeError, ValueError) as exc:
        print(f"draw verify: {args.file} is not a draw document: {exc!r}", file=sys.stderr)
        return 2
    print(f"抽取验证通过：承诺值 {result.commitment}")
    for a in result.assignments:
        print(f"  专家 {a.expert_code} → {a.venue_name} {a.seat_label}")
    return 0
