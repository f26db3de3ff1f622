"""JSON of the expert pool, the credit blacklist, their imports and a draw record's
registration (智能回避 refusals with their reasons)."""

from __future__ import annotations

from typing import Any

from evaluation_hub.api.views.sessions import member_added_json
from evaluation_hub.pool.importing import PoolExpert, PoolImport
from evaluation_hub.pool.recusal import BlacklistEntry
from evaluation_hub.sessions.committee_draw import DrawRegistered

__all__ = ["blacklist_json", "draw_json", "import_json", "pool_expert_json"]


def import_json(r: PoolImport) -> dict[str, Any]:
    return {
        "format": r.format,
        "sha256": r.sha256,
        "rows": r.rows,
        "added": r.added,
        "updated": r.updated,
        "unchanged": r.unchanged,
        "dry_run": r.dry_run,
    }


def pool_expert_json(e: PoolExpert) -> dict[str, Any]:
    return {
        "id": e.id,
        "code": e.code,
        "name": e.name,
        "employer": e.employer,
        "former_employers": [
            {"employer": f.employer, "left_year": f.left_year} for f in e.former_employers
        ],
        "home_region": e.home_region,
        "specialties": list(e.specialties),
        "phone": e.phone,
    }


def blacklist_json(b: BlacklistEntry) -> dict[str, Any]:
    return {
        "expert_code": b.expert_code,
        "name": b.name,
        "employer": b.employer,
        "reason": b.reason,
        "until": b.until.isoformat(),
    }


def draw_json(d: DrawRegistered) -> dict[str, Any]:
    return {
        "added": [member_added_json(a) for a in d.added],
        "refused": [
            {"code": r.code, "line": r.line, "reasons": list(r.reasons)} for r in d.refused
        ],
    }
