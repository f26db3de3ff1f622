"""The signed evaluation report as PDF (评标报告 PDF), made with WeasyPrint.

What a host operator expects of a PDF is the document of record: the report every member
signed, the same file whoever downloads it and whenever. So:

* it exists only once the report is signed (``REPORT_FINAL``: ``report_signed`` or
  ``archived``); before that the printable HTML report is the working view, and a request for
  the PDF is refused with 409 (``report-not-signed``) saying so: a PDF that could circulate
  before the signatures are in would look final while it is not;
* it is rendered once, on the first request after signing, stored in ``report_pdfs`` with its
  SHA-256 and size, and the ``evaluation.report_pdf`` audit event (SHA-256, size) is written in
  the same transaction; every later request gets exactly the stored bytes. Rendering on
  request, not inside the last signature's transaction, keeps signing (a seat's message) from
  waiting seconds for a renderer; storing the bytes, not re-rendering, is what makes the hash
  on the audit chain the hash of what is served (WeasyPrint stamps a creation time, so two
  renderings of the same report are not byte-identical). The database holds it, not a file in
  the hub's state directory, so every hub process serves the same bytes and the archive finds
  them where it finds the rest of the session.

Who may read it is who may read the HTML report (``Action.SEE_SESSION``), checked first.
Rendering takes seconds for a large committee (``bench/report_pdf.py``): it runs in a worker
thread outside any transaction; if two first requests race, the first to commit wins and the
other serves the stored one.
"""

from __future__ import annotations

import asyncio
import hashlib
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from evaluation_hub import access
from evaluation_hub.audit.store import append_event
from evaluation_hub.db.engine import Database
from evaluation_hub.db.models import EvaluationSession
from evaluation_hub.errors import Conflict
from evaluation_hub.evaluation.models import ReportPdfRow
from evaluation_hub.evaluation.report import render_report
from evaluation_hub.evaluation.result import gather_report
from evaluation_hub.principal import Principal
from evaluation_hub.sealing import Sealer
from evaluation_hub.services import Services
from evaluation_hub.sessions.lookup import load_session
from evaluation_hub.sessions.states import REPORT_FINAL, state_name

__all__ = [
    "PDF_EVENT",
    "ReportPdf",
    "ensure_stored_pdf",
    "render_pdf",
    "report_pdf",
    "stored_pdf",
]

#: the audit event that records the PDF's SHA-256 and size (``archive verify`` checks it)
PDF_EVENT = "evaluation.report_pdf"

# The report's own stylesheet names the Windows/Noto CJK serif faces a reader's browser may
# have; the hub's machine has WenQuanYi Zen Hei (fonts-wqy-zenhei, scripts/
# install-system-deps.sh). Naming it first means every Chinese glyph comes from one known
# font, never a fallback that may lack it (tofu). WeasyPrint takes these rules as user
# stylesheets, which yield to the page's own rules unless ``!important``.
_PDF_CSS = """
/* Landscape: the per-expert score tables and the signatures are wide. */
@page { size: A4 landscape !important; margin: 12mm !important; }
body, h1, h2, h3, table, th, td, p, li {
  font-family: "WenQuanYi Zen Hei", "Noto Sans CJK SC", sans-serif !important;
}
.mono { font-family: "DejaVu Sans Mono", "WenQuanYi Zen Hei Mono", monospace !important; }
/* A fingerprint is read aloud and compared group by group: never broken inside a group. */
.fingerprint { white-space: nowrap !important; }
/* The 128-digit signature gets a fixed narrow block, so names and opinions keep their width. */
.signature { display: block !important; width: 32ch !important; font-size: 0.7em !important; }
td:first-child, th:first-child { white-space: nowrap !important; }
"""


@dataclass(frozen=True)
class ReportPdf:
    session_id: int
    data: bytes
    sha256: str
    size: int
    rendered_by: str
    rendered_at: datetime


def render_pdf(html: str) -> bytes:
    """The report page as PDF (A4, print media: the screen toolbar is hidden)."""
    # Imported here: loading WeasyPrint loads Pango through cffi, which only this needs.
    from weasyprint import CSS, HTML

    pdf: bytes = HTML(string=html).write_pdf(stylesheets=[CSS(string=_PDF_CSS)])
    return pdf


def _of(row: ReportPdfRow) -> ReportPdf:
    return ReportPdf(
        row.session_id, row.pdf, row.sha256, row.size, row.rendered_by, row.rendered_at
    )


async def stored_pdf(s: AsyncSession, session_id: int) -> ReportPdf | None:
    """The session's stored PDF, inside the caller's unit of work (the caller checked the
    principal, or is the archive)."""
    row = (
        await s.execute(select(ReportPdfRow).where(ReportPdfRow.session_id == session_id))
    ).scalar_one_or_none()
    return None if row is None else _of(row)


def _require_signed(session: EvaluationSession) -> None:
    if session.state not in REPORT_FINAL:
        raise Conflict(
            "report-not-signed",
            f"评标会当前状态为「{state_name(session.state)}」，评标报告经评标委员会全体成员"
            "签署后才能下载 PDF；签署前请查看网页版评标报告",
        )


async def report_pdf(
    hub: Services, actor: Principal, session_id: int, *, now: datetime
) -> ReportPdf:
    """The signed report as PDF: the stored one, or rendered, stored and audited now."""
    async with hub.db.read() as s:
        loaded = await load_session(s, session_id)
        access.require(actor, access.Action.SEE_SESSION, loaded.target)
        _require_signed(loaded.session)
        stored = await stored_pdf(s, session_id)
        if stored is not None:
            return stored
        data = await gather_report(s, session_id, hub.sealer, now=now)
    pdf = await asyncio.to_thread(render_pdf, render_report(data))
    async with hub.db.write() as s:
        loaded = await load_session(s, session_id, lock=True)
        access.require(actor, access.Action.SEE_SESSION, loaded.target)
        _require_signed(loaded.session)
        return await _store(s, session_id, pdf, by=actor.username, now=now)


async def ensure_stored_pdf(
    db: Database, sealer: Sealer, session_id: int, *, by: str, now: datetime
) -> ReportPdf | None:
    """The signed report's PDF, rendered, stored and audited now if nobody downloaded it yet;
    ``None`` while the report is not signed. For the archive (a privileged command run by the
    hub's operator, not a principal's request): a bundle made after signing always holds the
    document of record, whether or not anyone opened it before."""
    async with db.read() as s:
        session = await s.get(EvaluationSession, session_id)
        if session is None or session.state not in REPORT_FINAL:
            return None
        stored = await stored_pdf(s, session_id)
        if stored is not None:
            return stored
        data = await gather_report(s, session_id, sealer, now=now)
    pdf = await asyncio.to_thread(render_pdf, render_report(data))
    async with db.write() as s:
        return await _store(s, session_id, pdf, by=by, now=now)


async def _store(
    s: AsyncSession, session_id: int, pdf: bytes, *, by: str, now: datetime
) -> ReportPdf:
    """Store ``pdf`` with its audit event, unless another request stored one while this one
    rendered (then that one is the document of record)."""
    stored = await stored_pdf(s, session_id)
    if stored is not None:
        return stored
    row = ReportPdfRow(
        session_id=session_id,
        sha256=hashlib.sha256(pdf).hexdigest(),
        size=len(pdf),
        pdf=pdf,
        rendered_by=by,
        rendered_at=now,
    )
    s.add(row)
    await append_event(
        s,
        kind=PDF_EVENT,
        subject=f"session:{session_id}",
        actor=by,
        payload={"sha256": row.sha256, "size": row.size},
        at=now,
    )
    await s.flush()
    return _of(row)
