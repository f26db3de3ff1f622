"""The evaluation section of a session archive (``evaluation-hub archive``).

Found by :func:`evaluation_hub.archive.sections.sections` as the ``evaluation`` section. It
writes what the evaluation left behind, exactly as stored: the attached package's digest,
manifest, anonymity findings and overrides, the seed commitment and its reveal, every score
save (accepted or refused, with the reasons; a seat's save with the seat key's signature and
public key beside it, the same as ``scores.json`` holds with the signed sheet, so ``archive
verify`` re-checks it; a save entered at the host with its written reason), every
deviation-review request and answer, the result document with its digest, every report
signature, and the collusion signals (``signals.json``, the console's document: between bidders
always, between experts once sealed and when the archiving process holds the hub's key). After the reveal, and when the
archiving process holds the hub's sealing key, it also writes the report as HTML, rendered by
the same code that serves it. Once the report is signed, the bundle holds its PDF as stored
(rendered on its first download, ``report_pdf``, or by ``prepare_archive`` just before the
bundle is made when nobody downloaded it and the archiving process holds the sealing key) (``evaluation/report.pdf``) with its
SHA-256, size and who rendered it (``evaluation/report_pdf.json``); ``archive verify`` checks
the file against the hash its ``evaluation.report_pdf`` audit event recorded.

A session with no package attached contributes nothing. Must never write a file before the
reveal that names a bidder: the stored rows keep bidder ids only behind the shuffle labels, and
the report is left out until the session is revealed.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select

from evaluation_hub.archive.sections import REPORT_PDF, ArchiveContext, BundleFile, json_file
from evaluation_hub.db.base import Base
from evaluation_hub.db.engine import Database
from evaluation_hub.db.seat_terminals import SubmittedScore
from evaluation_hub.evaluation.collusion import read_signals
from evaluation_hub.evaluation.models import (
    AnonymityOverrideRow,
    EvaluationPackageRow,
    ReportSignatureRow,
    ReviewRequestRow,
    ScoreSaveRow,
)
from evaluation_hub.evaluation.report import render_report
from evaluation_hub.evaluation.report_pdf import ensure_stored_pdf, stored_pdf
from evaluation_hub.evaluation.result import gather_report
from evaluation_hub.evaluation.signals import signals_json
from evaluation_hub.sealing import Sealer

__all__ = ["archive_section", "prepare_archive"]


def _row(row: Base) -> dict[str, Any]:
    return {c.key: getattr(row, c.key) for c in row.__table__.columns}


async def prepare_archive(
    db: Database, session_id: int, sealer: Sealer | None, actor: str, now: datetime
) -> None:
    """Render, store and audit the signed report's PDF if nobody has downloaded it yet, so the
    bundle of a signed session always holds the document of record. Without the sealing key the
    report cannot be re-derived: the bundle then holds the PDF only if it was downloaded."""
    if sealer is not None:
        await ensure_stored_pdf(db, sealer, session_id, by=actor, now=now)


async def archive_section(ctx: ArchiveContext) -> list[BundleFile]:
    async with ctx.db.read() as s:
        package = (
            await s.execute(
                select(EvaluationPackageRow).where(
                    EvaluationPackageRow.session_id == ctx.session_id
                )
            )
        ).scalar_one_or_none()
        if package is None:
            return []
        tables: dict[str, list[dict[str, Any]]] = {}
        for name, model in (
            ("anonymity_overrides", AnonymityOverrideRow),
            ("score_saves", ScoreSaveRow),
            ("review_requests", ReviewRequestRow),
            ("signatures", ReportSignatureRow),
        ):
            rows = (
                await s.execute(
                    select(model).where(model.session_id == ctx.session_id).order_by(model.id)
                )
            ).scalars()
            tables[name] = [_row(r) for r in rows]
        pdf = await stored_pdf(s, ctx.session_id)
        signed = {
            r.id: (r.seat_signature, r.seat_public_key)
            for r in (
                await s.execute(
                    select(SubmittedScore).where(SubmittedScore.session_ref == str(ctx.session_id))
                )
            ).scalars()
        }
    for save in tables["score_saves"]:
        sig, key = signed.get(save["submitted_score_id"], (None, None))
        save["seat_signature"], save["seat_public_key"] = sig, key
        # Collusion signals as the host's console shows them (bidder ids, places and sizes);
        # those between experts only when the key can open the shuffle of the sealed sheets.
        found = await read_signals(
            s,
            ctx.session_id,
            ctx.sealer,
            bidders=True,
            expert_visible=lambda _: True,
            everything=True,
        )
    record = _row(package)
    # The sealed seed is ciphertext under the hub's key: useless to a reader, kept out.
    record.pop("sealed_seed", None)
    files = [json_file("evaluation/package.json", record)]
    files.append(json_file("evaluation/signals.json", signals_json(found)))
    files += [json_file(f"evaluation/{name}.json", rows) for name, rows in tables.items()]
    if ctx.sealer is not None and package.revealed_at is not None:
        async with ctx.db.read() as s:
            data = await gather_report(s, ctx.session_id, ctx.sealer, now=ctx.now)
        files.append(BundleFile("evaluation/report.html", data=render_report(data).encode()))
    if pdf is not None:
        files.append(BundleFile(REPORT_PDF, data=pdf.data))
        files.append(
            json_file(
                "evaluation/report_pdf.json",
                {
                    "sha256": pdf.sha256,
                    "size": pdf.size,
                    "rendered_by": pdf.rendered_by,
                    "rendered_at": pdf.rendered_at,
                },
            )
        )
    return files
