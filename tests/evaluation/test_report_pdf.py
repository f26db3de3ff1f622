"""The signed evaluation report as PDF: refused before the last signature and to whoever may not
read the report, rendered once with the CJK font and served as stored, its hash on the audit
chain, and carried by the session archive, whose verify catches a replaced or removed PDF.

The session is the five-member evaluation of ``test_end_to_end`` (same scores, so the same
ranking and E05's deviation kept with a written reason), each member signing at their seat."""

from __future__ import annotations

import hashlib
import io
import json
import shutil
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from pypdf import PdfReader
from sqlalchemy import select

from evaluation_hub.api.keys import SERVICES
from evaluation_hub.archive.bundle import Manifest
from evaluation_hub.audit.models import AuditEventRow
from evaluation_hub.cli import main
from evaluation_hub.db.engine import Database
from evaluation_hub.evaluation.models import ReportPdfRow
from evaluation_hub.seats import expert_requests
from scoring.model import COMMERCIAL_PART
from scoring.signing import sign, signature_document
from seat_protocol.messages import ReportSignature, RequestResult
from tests.archive.test_tamper import resign
from tests.conftest import FakeClock
from tests.evaluation.helpers import (
    FIVE,
    Client,
    act,
    attach,
    demo_package,
    hub_shuffle,
    new_session,
    part_save,
    proxy,
    seat_members,
    seat_private_key,
    start,
)
from tests.evaluation.test_end_to_end import _archive_cli, _points
from tests.hub.helpers import login, problem

SEATS = {"E01": "KM-01", "E02": "KM-02", "E03": "DL-01", "E04": "DL-02", "E05": "HH-01"}
KEEP_REASON = "该章节未涉及高边坡防护方案，故给低分"


def fingerprint(public_key_hex: str) -> str:
    """First 16 hex digits of the SHA-256 of the raw key, in groups of four."""
    digest = hashlib.sha256(bytes.fromhex(public_key_hex)).hexdigest()[:16]
    return f"{digest[:4]} {digest[4:8]} {digest[8:12]} {digest[12:]}"


async def _revealed(
    client: Client, seeded: dict[str, Any], clock: FakeClock, database: Database
) -> tuple[int, dict[str, str], dict[str, Any], dict[str, str]]:
    """The session revealed; returns (session id, host headers, result, expert → seat key)."""
    package = demo_package()
    host = await login(client, "km_operator")
    sid = await new_session(client, host, seeded)
    base = f"/api/sessions/{sid}/evaluation"
    seat_of = await seat_members(client, seeded, database, sid, SEATS, clock())
    await act(client, host, sid, "confirm_seats", "open_check_in")
    assert (await attach(client, host, sid)).status == 201
    await start(client, host, sid)
    shuffle = await hub_shuffle(client, database, sid)
    for expert in FIVE:
        for part in (*package.chapter_ids, COMMERCIAL_PART):
            clock.advance(seconds=10)
            save = proxy(part_save(package, shuffle, expert, part, _points(expert)))
            resp = await client.post(f"{base}/scores", json=save, headers=host)
            assert resp.status == 201, await resp.text()
    resp = await client.post(f"{base}/review", headers=host)
    [flag] = (await resp.json())["created"]
    resp = await client.post(
        f"{base}/review-requests/{flag['id']}/answer",
        json={"answer": "keep", "reason": KEEP_REASON},
        headers=host,
    )
    assert resp.status == 200, await resp.text()
    for step in ("seal", "reveal"):
        clock.advance(minutes=5)
        resp = await client.post(f"{base}/{step}", headers=host)
        assert resp.status == 200, await resp.text()
    return sid, host, (await resp.json())["result"], seat_of


async def _sign(
    client: Client, clock: FakeClock, sid: int, result: dict[str, Any], seat_of: dict[str, str],
    experts: tuple[str, ...],
) -> dict[str, str]:  # fmt: skip
    """Each of ``experts`` signs at their seat with its key; returns expert → public key hex."""
    services = client.app[SERVICES]  # type: ignore[index]
    keys: dict[str, str] = {}
    for expert in experts:
        key = seat_private_key(seat_of[expert])
        keys[expert] = key.public_key().public_bytes_raw().hex()
        agrees = expert != "E04"
        reason = "" if agrees else "b03 技术方案明显优于其他投标人，价格分权重过高"
        document = signature_document(str(sid), expert, agrees, reason, result)
        message = ReportSignature(
            session_id=str(sid),
            decision="agree" if agrees else "disagree",
            reason=reason,
            public_key=keys[expert],
            signature=sign(key, document).hex(),
        )
        clock.advance(seconds=30)
        [answer] = await expert_requests.sign_report(
            services, seat_of[expert], message, now=clock()
        )
        assert isinstance(answer, RequestResult) and answer.accepted, answer
    return keys


def _text(pdf: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)


def _fonts(pdf: bytes) -> set[str]:
    found = set()
    for page in PdfReader(io.BytesIO(pdf)).pages:
        for font in page["/Resources"]["/Font"].values():
            found.add(str(font.get_object()["/BaseFont"]).split("+", 1)[-1])
    return found


async def _pdf_events(database: Database, sid: int) -> list[dict[str, Any]]:
    async with database.read() as s:
        rows = await s.execute(
            select(AuditEventRow.payload, AuditEventRow.actor)
            .where(AuditEventRow.subject == f"session:{sid}")
            .where(AuditEventRow.kind == "evaluation.report_pdf")
            .order_by(AuditEventRow.seq)
        )
        return [{**payload, "actor": actor} for payload, actor in rows.tuples()]


async def test_the_signed_report_as_pdf(
    client: Client,
    seeded: dict[str, Any],
    clock: FakeClock,
    database: Database,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    sid, host, result, seat_of = await _revealed(client, seeded, clock, database)
    url = f"/api/sessions/{sid}/report.pdf"
    keys = await _sign(client, clock, sid, result, seat_of, FIVE[:4])

    # Revealed, one signature missing: no PDF yet, the HTML report is the working view.
    body = await problem(await client.get(url, headers=host), 409)
    assert body["detail"] == (
        "评标会当前状态为「已解密还原」，评标报告经评标委员会全体成员签署后才能下载 PDF；"
        "签署前请查看网页版评标报告"
    )
    keys |= await _sign(client, clock, sid, result, seat_of, FIVE[4:])
    lifecycle = await (await client.get(f"/api/sessions/{sid}/lifecycle", headers=host)).json()
    assert lifecycle["state"] == "report_signed"

    # An away venue's supervisor may not read the host's report: refused before any rendering.
    away = await login(client, "dl_supervisor")
    body = await problem(await client.get(url, headers=away), 403)
    assert body["detail"] == f"评标会 #{sid} 不由本场地主办，无权查看"
    assert await _pdf_events(database, sid) == []

    clock.advance(minutes=10)
    resp = await client.get(url, headers=host)
    assert resp.status == 200, await resp.text()
    assert resp.content_type == "application/pdf"
    pdf = await resp.read()
    sha = hashlib.sha256(pdf).hexdigest()
    assert pdf.startswith(b"%PDF-")
    assert resp.headers["X-Content-SHA256"] == sha
    assert resp.headers["Content-Disposition"] == (
        f"attachment; filename=\"report-{sid}.pdf\"; filename*=UTF-8''"
        f"%E8%AF%84%E6%A0%87%E6%8A%A5%E5%91%8A-{sid}.pdf"
    )
    # The audit chain records exactly the served bytes, under who asked first.
    assert await _pdf_events(database, sid) == [
        {"sha256": sha, "size": len(pdf), "actor": "km_operator"}
    ]

    # The Chinese text is text in the CJK font (no tofu): the ranking, the candidates, the
    # review record, every member's signature with the fingerprint of the seat key that signed.
    assert {"WenQuanYi-Zen-Hei-Medium", "WenQuanYi-Zen-Hei-Bold"} <= _fonts(pdf)
    text = _text(pdf)
    for line in (
        "评标报告",
        "七、综合得分与排序",
        "1 b05 大理苍洱路桥工程有限公司 30.60 28.00 26.88 85.48",
        "2 b02 普洱澜沧江交通工程有限公司 28.70 28.00 27.57 84.27",
        "5 b04 红河南疆建设工程有限责任公司 26.90 15.00 29.48 71.38",
        "第 1 名中标候选人：b05 大理苍洱路桥工程有限公司",
        "九、评标委员会成员签署",
        "十、主场代录评分记录",
        "评标基准价：34,560,000.00 元",
    ):
        assert line in text, line
    flat = text.replace("\n", "")
    assert KEEP_REASON in flat
    assert "b03 技术方案明显优于其他投标人，价格分权重过高" in flat
    for expert in FIVE:
        assert fingerprint(keys[expert]) in text, expert

    # Every later request, by anyone who may read the report, gets the stored bytes.
    clock.advance(minutes=10)
    supervisor = await login(client, "km_supervisor")
    again = await client.get(url, headers=supervisor)
    assert again.status == 200 and await again.read() == pdf
    assert len(await _pdf_events(database, sid)) == 1

    # --- the archive carries it; verify checks it against the audit event -------------------
    bundle = tmp_path / "bundle"
    made = _archive_cli(
        str(sid), "--database-url", database.url, "--hub-key", str(tmp_path / "hub-key.pem"),
        "--out", str(bundle), sealing_key_file=tmp_path / "sealing.key",
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    assert (bundle / "evaluation" / "report.pdf").read_bytes() == pdf
    stated = json.loads((bundle / "evaluation" / "report_pdf.json").read_bytes())
    assert (stated["sha256"], stated["size"], stated["rendered_by"]) == (
        sha,
        len(pdf),
        "km_operator",
    )
    assert main(["archive", "verify", str(bundle)]) == 0, capsys.readouterr().out
    capsys.readouterr()
    async with database.read() as s:
        [seq] = (
            await s.execute(
                select(AuditEventRow.seq).where(AuditEventRow.kind == "evaluation.report_pdf")
            )
        ).scalars()

    # Someone holding the hub key swaps the PDF and re-signs the manifest: the audit event
    # still names the PDF the hub served.
    hub_key = client.app[SERVICES].hub_key  # type: ignore[index]
    swapped = tmp_path / "swapped"
    shutil.copytree(bundle, swapped)
    forged = pdf + b"\n% appended\n"
    (swapped / "evaluation" / "report.pdf").write_bytes(forged)
    resign(swapped, hub_key)
    assert main(["archive", "verify", str(swapped)]) == 1
    assert capsys.readouterr().out.strip() == (
        f"file evaluation/report.pdf has sha256 {hashlib.sha256(forged).hexdigest()}, but "
        f"audit event {seq} recorded {sha} for the signed report: the PDF was replaced"
    )
    # Or removes it from the bundle and the manifest.
    removed = tmp_path / "removed"
    shutil.copytree(bundle, removed)
    (removed / "evaluation" / "report.pdf").unlink()
    manifest = Manifest.from_bytes((removed / "manifest.json").read_bytes())
    kept = tuple(f for f in manifest.files if f.path != "evaluation/report.pdf")
    (removed / "manifest.json").write_bytes(replace(manifest, files=kept).to_bytes())
    resign(removed, hub_key)
    assert main(["archive", "verify", str(removed)]) == 1
    assert capsys.readouterr().out.strip() == (
        f"audit event {seq} recorded the report PDF (sha256 {sha}), but evaluation/report.pdf "
        "is missing from the bundle: it was removed"
    )
    # The stored row is the one served.
    async with database.read() as s:
        [row] = (await s.execute(select(ReportPdfRow))).scalars()
    assert (row.sha256, row.size, row.pdf) == (sha, len(pdf), pdf)


async def test_an_archive_made_before_anyone_downloads_holds_the_pdf(
    client: Client,
    seeded: dict[str, Any],
    clock: FakeClock,
    database: Database,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    sid, host, result, seat_of = await _revealed(client, seeded, clock, database)
    await _sign(client, clock, sid, result, seat_of, FIVE)
    assert await _pdf_events(database, sid) == []

    # Without the sealing key the report cannot be re-derived: no PDF, and none invented.
    plain = tmp_path / "plain"
    made = _archive_cli(
        str(sid), "--database-url", database.url, "--hub-key", str(tmp_path / "hub-key.pem"),
        "--out", str(plain), sealing_key_file=tmp_path / "absent.key",
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    assert not (plain / "evaluation" / "report.pdf").exists()
    assert await _pdf_events(database, sid) == []

    # With it, the archive renders, stores and audits the document of record first.
    bundle = tmp_path / "bundle"
    made = _archive_cli(
        str(sid), "--database-url", database.url, "--hub-key", str(tmp_path / "hub-key.pem"),
        "--out", str(bundle), sealing_key_file=tmp_path / "sealing.key",
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    pdf = (bundle / "evaluation" / "report.pdf").read_bytes()
    sha = hashlib.sha256(pdf).hexdigest()
    [event] = await _pdf_events(database, sid)
    assert event["sha256"] == sha and event["size"] == len(pdf)
    assert event["actor"].startswith("cli:")
    stated = json.loads((bundle / "evaluation" / "report_pdf.json").read_bytes())
    assert (stated["sha256"], stated["rendered_by"]) == (sha, event["actor"])
    assert "评标报告" in _text(pdf)
    assert main(["archive", "verify", str(bundle)]) == 0, capsys.readouterr().out

    # The host's later download is the same document, and no second one is made.
    resp = await client.get(f"/api/sessions/{sid}/report.pdf", headers=host)
    assert resp.status == 200 and await resp.read() == pdf
    assert len(await _pdf_events(database, sid)) == 1
