"""The national cryptographic suite (SM2/SM3/SM4-GCM) end to end: a hub configured for it runs
an evaluation to a report signed by every member with their seat's SM2 key, and the audit chain
(SM3 hashes, SM2-signed checkpoints) and the session archive (SM2-signed manifest naming the
suite) verify with ``audit verify`` and ``archive verify`` run as commands; one changed SM3-chained
event or one changed SM2 signature is named. The suite is fixed for the database: a hub of the
default suite refuses it.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import re
import shutil
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from subprocess import CompletedProcess, run
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import update

from evaluation_hub.api.app import create_app
from evaluation_hub.api.keys import SERVICES
from evaluation_hub.audit.chain import verify
from evaluation_hub.audit.keys import load_public_key
from evaluation_hub.audit.models import AuditEventRow
from evaluation_hub.audit.store import SuiteMismatch, fix_suite, load_chain, load_checkpoints
from evaluation_hub.cli import main
from evaluation_hub.config import HubConfig
from evaluation_hub.db.engine import Database
from evaluation_hub.seats import expert_requests
from scoring.signing import sign, signature_document
from seat_protocol.auth import public_key_bytes
from seat_protocol.messages import ReportSignature, RequestResult
from seat_protocol.sm2 import SM2PrivateKey, SM2PublicKey
from seat_protocol.suites import DEFAULT, NATIONAL
from tests.conftest import FakeClock
from tests.evaluation import helpers
from tests.evaluation.helpers import FIVE, Client
from tests.evaluation.test_report_pdf import _revealed

_N = int("FFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFF7203DF6B21C6052B53BBF40939D54123", 16)


def sm2_seat_key(seat_key: str) -> SM2PrivateKey:
    """A seat terminal's SM2 key, fixed per seat so the test does not depend on randomness."""
    return SM2PrivateKey(int.from_bytes(hashlib.sha256(seat_key.encode()).digest()) % (_N - 2) + 1)


@pytest.fixture
async def seeded(
    database: Database, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> dict[str, Any]:
    from tests.support.seed import seed

    # The suite is recorded before the first event (as `serve` does on a new database).
    async with database.write() as s:
        await fix_suite(s, NATIONAL)
    monkeypatch.setattr(helpers, "seat_private_key", sm2_seat_key)
    return await seed(database, clock())


@pytest.fixture
async def client(
    database: Database, clock: FakeClock, tmp_path: Path
) -> AsyncIterator[TestClient[Any, Any]]:
    config = HubConfig(
        database_url=database.url,
        token_secret="t" * 40,
        sealing_key_file=tmp_path / "sealing.key",
        hub_key_file=tmp_path / "hub-key.pem",
        recordings_dir=tmp_path / "recordings",
        checkpoint_every_events=2,
        crypto_suite="national",
    )
    app = create_app(config, db=database, clock=clock, sweep=False)
    async with TestClient(TestServer(app)) as test_client:
        yield test_client


_LOG_LINE = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \[")


def _printed(out: str) -> list[str]:
    """What a command printed, without the log lines the running hub writes meanwhile."""
    return [line for line in out.splitlines() if not _LOG_LINE.match(line)]


def _hub(*argv: str, tmp_path: Path) -> CompletedProcess[str]:
    """``evaluation-hub ARGV`` in a fresh interpreter, as an operator runs it."""
    env = dict(os.environ, EVALHUB_SEALING_KEY_FILE=str(tmp_path / "sealing.key"))
    command = [sys.executable, "-m", "evaluation_hub.cli", *argv]
    return run(command, capture_output=True, text=True, env=env, timeout=120, check=False)


async def _sign_all(
    client: Client, clock: FakeClock, sid: int, result: dict[str, Any], seat_of: dict[str, str]
) -> None:
    services = client.app[SERVICES]  # type: ignore[index]
    for expert in FIVE:
        key = sm2_seat_key(seat_of[expert])
        agrees = expert != "E04"
        reason = "" if agrees else "b03 技术方案明显优于其他投标人，价格分权重过高"
        document = signature_document(str(sid), expert, agrees, reason, result)
        signature = sign(key, document)
        assert len(signature) == 64
        message = ReportSignature(
            session_id=str(sid),
            decision="agree" if agrees else "disagree",
            reason=reason,
            public_key=public_key_bytes(key).hex(),
            signature=signature.hex(),
        )
        clock.advance(seconds=30)
        [answer] = await expert_requests.sign_report(
            services, seat_of[expert], message, now=clock()
        )
        assert isinstance(answer, RequestResult) and answer.accepted, answer


async def test_an_sm2_signed_report_verifies_with_audit_verify_and_archive_verify(
    client: Client,
    seeded: dict[str, Any],
    clock: FakeClock,
    database: Database,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    sid, host, result, seat_of = await _revealed(client, seeded, clock, database)
    # Every seat of the committee enrolled an SM2 key (65 bytes, 04 || x || y).
    assert {len(public_key_bytes(sm2_seat_key(k))) for k in seat_of.values()} == {65}

    # A member's SM2 signature over another document, or by another key, is refused.
    services = client.app[SERVICES]  # type: ignore[index]
    forged = ReportSignature(
        session_id=str(sid),
        decision="agree",
        reason="",
        public_key=public_key_bytes(sm2_seat_key(seat_of["E01"])).hex(),
        signature=sign(sm2_seat_key(seat_of["E02"]), signature_document(
            str(sid), "E01", True, "", result)).hex(),
    )  # fmt: skip
    [refused] = await expert_requests.sign_report(services, seat_of["E01"], forged, now=clock())
    assert isinstance(refused, RequestResult) and not refused.accepted

    await _sign_all(client, clock, sid, result, seat_of)
    lifecycle = await (await client.get(f"/api/sessions/{sid}/lifecycle", headers=host)).json()
    assert lifecycle["state"] == "report_signed"
    # The report names the signatures SM2 and prints each seat key's SM3 fingerprint.
    resp = await client.get(f"/api/sessions/{sid}/evaluation/report", headers=host)
    assert resp.status == 200, await resp.text()
    html = await resp.text()
    assert "SM2 签名" in html and "Ed25519" not in html
    for seat_key in seat_of.values():
        digest = NATIONAL.hexdigest(public_key_bytes(sm2_seat_key(seat_key)))[:16]
        assert " ".join(digest[i : i + 4] for i in range(0, 16, 4)) in html

    # The hub key is SM2, written as OpenSSL writes an SM2 SubjectPublicKeyInfo.
    public_file = tmp_path / "hub-key.pub"
    assert isinstance(load_public_key(public_file), SM2PublicKey)
    assert public_file.read_text().startswith(
        "-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoEcz1UB"
    )

    # The chain is SM3: it verifies in the national suite and not as SHA-256.
    async with database.read() as s:
        events, checkpoints = await load_chain(s), await load_checkpoints(s)
    assert verify(events, checkpoints, load_public_key(public_file), suite=NATIONAL).ok
    wrong = verify(events, checkpoints, load_public_key(public_file), suite=DEFAULT)
    assert wrong.problem is not None and wrong.problem.seq == 1

    # --- audit verify, as a command ------------------------------------------------------------
    checked = _hub("audit", "verify", "--database-url", database.url, "--public-key",
                   str(public_file), tmp_path=tmp_path)  # fmt: skip
    assert checked.returncode == 0, checked.stderr
    printed = _printed(checked.stdout)
    assert printed[0] == "cryptographic suite: national (SM2/SM3/SM4-GCM)"
    assert printed[1].startswith(f"audit chain OK: {len(events)} events")

    # --- the archive names the suite; archive verify reads it from the bundle ---------------------
    bundle = tmp_path / "bundle"
    made = _hub("archive", str(sid), "--database-url", database.url, "--hub-key",
                str(tmp_path / "hub-key.pem"), "--out", str(bundle), tmp_path=tmp_path)  # fmt: skip
    assert made.returncode == 0, made.stderr
    # Making it took an SM2-signed checkpoint of the SM3 chain's head.
    async with database.read() as s:
        events, checkpoints = await load_chain(s), await load_checkpoints(s)
    assert checkpoints and checkpoints[-1].seq == events[-1].seq
    assert all(len(c.signature) == 128 for c in checkpoints)
    assert verify(events, checkpoints, load_public_key(public_file), suite=NATIONAL).ok
    manifest = json.loads((bundle / "manifest.json").read_bytes())
    assert manifest["suite"] == "national"
    assert len((bundle / "manifest.sig").read_text().strip()) == 128
    verified = _hub("archive", "verify", str(bundle), "--public-key", str(public_file),
                    tmp_path=tmp_path)  # fmt: skip
    assert verified.returncode == 0, verified.stdout + verified.stderr
    printed = _printed(verified.stdout)
    assert printed[0].startswith(f"archive OK: session {sid}, ")
    assert printed[0].endswith("(national suite)")

    # --- one SM2 signature changed: the manifest's ----------------------------------------------
    forged_bundle = tmp_path / "forged"
    shutil.copytree(bundle, forged_bundle)
    sig = (forged_bundle / "manifest.sig").read_text().strip()
    (forged_bundle / "manifest.sig").write_text(sig[:-1] + ("0" if sig[-1] != "0" else "1") + "\n")
    capsys.readouterr()  # the hub's log lines so far
    assert await asyncio.to_thread(main, ["archive", "verify", str(forged_bundle)]) == 1
    assert _printed(capsys.readouterr().out)[0].startswith(
        "manifest.sig is not a valid signature of manifest.json by the key in hub-public-key.pem"
    )

    # --- one SM3-chained event changed in the database ----------------------------------------
    target = events[len(events) // 2]
    async with database.write() as s:
        await s.execute(
            update(AuditEventRow)
            .where(AuditEventRow.seq == target.seq)
            .values(actor=target.actor + "x")
        )
    command = ["audit", "verify", "--database-url", database.url, "--public-key", str(public_file)]
    capsys.readouterr()
    assert await asyncio.to_thread(main, command) == 1
    assert _printed(capsys.readouterr().out) == [
        "cryptographic suite: national (SM2/SM3/SM4-GCM)",
        f"event {target.seq} ({target.kind} on {target.subject}) was edited: its contents do not "
        "match its stored hash",
    ]

    # The suite is fixed for this database: a default-suite hub refuses to start on it.
    async with database.write() as s:
        with pytest.raises(SuiteMismatch) as caught:
            await fix_suite(s, DEFAULT)
    assert str(caught.value) == (
        "this database's audit chain uses the national cryptographic suite (SM2/SM3/SM4-GCM), "
        "but the hub is configured for the default suite (Ed25519/SHA-256/AES-256-GCM); the "
        "suite is fixed for a database once chosen: set EVALHUB_CRYPTO_SUITE=national, or give "
        "this hub a new database"
    )
