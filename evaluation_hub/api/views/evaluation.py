"""JSON of the evaluation engine's results (评审): the overview, an expert's view, score saves,
review requests, the result and signatures; the report page is HTML (``render_report``).

Before the session is revealed nothing here names a bidder or its credit code: bidders appear
by id, technical chapters by the labels each expert saw (the results carry no more).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from evaluation_hub.api.serialize import iso
from evaluation_hub.evaluation.import_report import PackageReport
from evaluation_hub.evaluation.overview import Overview
from evaluation_hub.evaluation.package import ExpertChapters
from evaluation_hub.evaluation.report import ReportData, render_report
from evaluation_hub.evaluation.report_pdf import ReportPdf
from evaluation_hub.evaluation.result import ResultView
from evaluation_hub.evaluation.review import ReviewRequest, ReviewRound
from evaluation_hub.evaluation.saves import SaveOutcome
from evaluation_hub.evaluation.signals import signals_json
from evaluation_hub.evaluation.signatures import Signature
from evaluation_hub.seats.deliveries import DeliveryBoard
from evaluation_hub.sessions.changes import SessionWatch
from evaluation_hub.sessions.states import state_name

__all__ = [
    "DELIVERY_NAMES",
    "delivery_board_json",
    "expert_view_json",
    "overview_json",
    "package_report_json",
    "report_html",
    "report_pdf_headers",
    "request_json",
    "result_json",
    "review_round_json",
    "save_json",
    "signals_json",
    "signature_json",
    "watch_json",
]

#: a seat's chapter delivery (``seats.deliveries.DELIVERY_STATES``) as the console names it
DELIVERY_NAMES = {
    "not_released": "未发放",
    "skipped": "未能发放",
    "waiting": "待工位连接",
    "sent": "已发送",
    "received": "已接收",
    "verified": "已校验",
    "failed": "校验失败",
}


def request_json(r: ReviewRequest) -> dict[str, Any]:
    return {
        "id": r.id,
        "round": r.round,
        "expert": r.expert_code,
        "part": r.part_id,
        "subject": r.subject,
        "item": r.item_id,
        "reason": r.reason,
        "message": r.message,
        "spread": dict(r.spread),
        "requested_at": iso(r.requested_at),
        "answer": r.answer,
        "answer_reason": r.answer_reason,
        "answered_at": iso(r.answered_at) if r.answered_at else None,
        "answered_by": r.answered_by,
        "informational": r.informational,
        "settled_values": dict(r.settled_values) if r.settled_values is not None else None,
    }


def overview_json(o: Overview) -> dict[str, Any]:
    p = o.package
    return {
        "session_id": o.session_id,
        "state": o.state,
        "state_name": state_name(o.state),
        "package": {
            "content_digest": p.content_digest,
            "attached_by": p.attached_by,
            "attached_at": iso(p.attached_at),
            "project_code": p.project_code,
            "section_code": p.section_code,
            "method": p.method,
            "bidders": list(p.bidders),
            "chapters": [{"id": c.id, "title": c.title} for c in p.chapters],
            "parts": list(p.parts),
            "experts": list(p.experts),
            "recused": list(p.recused),
        },
        "seed": {"commitment": o.seed_commitment, "revealed_seed": o.revealed_seed},
        "anonymity": {
            "findings": [
                {
                    "bidder_id": f.bidder_id,
                    "chapter_id": f.chapter_id,
                    "kind": f.kind,
                    "kind_name": f.kind_name,
                    "line": f.line,
                    "column": f.column,
                    "owner_id": f.owner_id,
                    "length": f.length,
                    "evasion": f.evasion,
                    "mark": f.mark,
                }
                for f in o.findings
            ],
            "overrides": [
                {
                    "bidder_id": x.bidder_id,
                    "chapter_id": x.chapter_id,
                    "reason": x.reason,
                    "recorded_by": x.recorded_by,
                    "recorded_at": iso(x.recorded_at),
                }
                for x in o.overrides
            ],
            "blocked": dict(o.blocked),
        },
        "scoring": {
            "experts": [
                {
                    "expert": e.expert,
                    "scored_parts": list(e.scored_parts),
                    "parts_total": e.parts_total,
                    "complete": e.complete,
                }
                for e in o.experts
            ],
            "refused": [
                {
                    "id": r.id,
                    "expert": r.expert,
                    "part": r.part,
                    "source": r.source,
                    "code": r.code,
                    "problems": list(r.problems),
                    "received_at": iso(r.received_at),
                }
                for r in o.refused
            ],
            "proxy_saves": [
                {
                    "id": p.save_id,
                    "expert": p.expert,
                    "part": p.part,
                    "label": "代录",
                    "accepted": p.accepted,
                    "reason": p.reason,
                    "recorded_by": p.recorded_by,
                    "received_at": iso(p.received_at),
                }
                for p in o.proxy_saves
            ],
        },
        "review": {"requests": [request_json(r) for r in o.requests]},
        "signatures": [
            {
                "expert": x.expert,
                "decision": x.decision,
                "counted_as_agreement": x.counted_as_agreement,
                "reason": x.reason,
                "signed_at": iso(x.signed_at),
            }
            for x in o.signatures
        ],
    }


def expert_view_json(v: ExpertChapters) -> dict[str, Any]:
    return {
        "session_id": v.session_id,
        "expert": v.expert,
        "seed_commitment": v.seed_commitment,
        "chapters": [
            {"chapter_id": c.chapter_id, "title": c.title, "labels": list(c.labels)}
            for c in v.chapters
        ],
        "commercial_subjects": list(v.commercial_subjects),
    }


def save_json(outcome: SaveOutcome) -> dict[str, Any]:
    return {
        "save_id": outcome.save_id,
        "accepted": outcome.accepted,
        "expert": outcome.expert,
        "part": outcome.part,
        "proxy": outcome.proxy_reason is not None,
        "proxy_reason": outcome.proxy_reason,
    }


def review_round_json(r: ReviewRound) -> dict[str, Any]:
    return {"created": [request_json(x) for x in r.requests]}


def result_json(r: ResultView) -> dict[str, Any]:
    return {
        "session_id": r.session_id,
        "result": dict(r.result),
        "result_digest": r.result_digest,
        "seed_commitment": r.seed_commitment,
        "revealed_seed": r.revealed_seed,
        "bidders": {b.id: {"name": b.name, "credit_code": b.credit_code} for b in r.bidders},
        "views": dict(r.views),
    }


def signature_json(x: Signature) -> dict[str, Any]:
    return {
        "expert": x.expert,
        "decision": x.decision,
        "counted_as_agreement": x.counted_as_agreement,
        "reason": x.reason,
        "document_digest": x.document_digest,
    }


def report_html(data: ReportData) -> str:
    """The evaluation report as one printable page (``evaluation.report``)."""
    return render_report(data)


def report_pdf_headers(pdf: ReportPdf) -> dict[str, str]:
    """Headers of the stored report PDF: its SHA-256 (the one on the audit chain) and a file
    name (ASCII, and the Chinese one for clients that read RFC 6266's ``filename*``)."""
    quoted = quote(f"评标报告-{pdf.session_id}.pdf")
    return {
        "X-Content-SHA256": pdf.sha256,
        "ETag": f'"{pdf.sha256}"',
        "Content-Disposition": (
            f"attachment; filename=\"report-{pdf.session_id}.pdf\"; filename*=UTF-8''{quoted}"
        ),
        "Cache-Control": "no-store",
    }


def package_report_json(r: PackageReport) -> dict[str, Any]:
    return {
        "session_id": r.session_id,
        "source_path": r.source_path,
        "content_digest": r.content_digest,
        "attached_by": r.attached_by,
        "attached_at": iso(r.attached_at),
        "seed_commitment": r.seed_commitment,
        "project": {"code": r.project_code, "name": r.project_name},
        "section": {"code": r.section_code, "name": r.section_name},
        "method": r.method,
        "bidders": list(r.bidders),
        "parts": [{"id": p.id, "name": p.name, "items": p.items} for p in r.parts],
        "anonymity": {
            "findings": r.anonymity_findings,
            "flagged_chapters": list(r.flagged_chapters),
        },
        "similarity": (
            None
            if r.similarity is None
            else [
                {
                    "chapter_id": x.chapter_id,
                    "bidder_a": x.bidder_a,
                    "bidder_b": x.bidder_b,
                    "jaccard": x.jaccard,
                    "containment": x.containment,
                    "passages": x.passages,
                    "longest_passage": x.longest,
                }
                for x in r.similarity
            ]
        ),
    }


def delivery_board_json(board: DeliveryBoard) -> dict[str, Any]:
    return {
        "session_id": board.session_id,
        "releases": board.releases,
        "seats": [
            {
                "seat_key": x.seat_key,
                "venue_name": x.venue_name,
                "expert": x.expert_code,
                "seated": x.seated,
                "checked_in": x.checked_in,
                "release": x.release,
                "status": x.status,
                "status_name": DELIVERY_NAMES[x.status],
                "chapters": x.chapters,
                "skipped": x.skipped,
                "failed": list(x.failed),
                "released_at": iso(x.released_at) if x.released_at else None,
                "sent_at": iso(x.sent_at) if x.sent_at else None,
                "received_at": iso(x.received_at) if x.received_at else None,
                "verified_at": iso(x.verified_at) if x.verified_at else None,
            }
            for x in board.seats
        ],
    }


def watch_json(w: SessionWatch) -> dict[str, Any]:
    """The snapshot a session's event stream opens with."""
    return {
        "type": "snapshot",
        "session_id": w.session_id,
        "project_name": w.project_name,
        "section": w.section,
        "state": w.state,
        "state_name": state_name(w.state),
        "may": {
            "run_evaluation": w.may_run_evaluation,
            "release_chapters": w.may_release_chapters,
        },
    }
