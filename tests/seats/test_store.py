"""Enrolment decisions and exactly-once score commits in the hub database (SQLite)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from evaluation_hub.db.engine import Database
from evaluation_hub.errors import Conflict
from evaluation_hub.principal import Principal
from evaluation_hub.seats import enrolment, scores
from scoring.signing import save_document, sign
from seat_agent.keys import SeatIdentity
from seat_protocol.hub_side import EnrolledSeat, score_digest
from tests.seats.conftest import DL_ADMIN, NOW, enrol_approved, services_for

SHEET: dict[str, Any] = {"items": {"t1": 8.5}}


async def _commit(
    db: Database, identity: SeatIdentity, key: str, sheet: dict[str, Any]
) -> scores.ScoreCommit:
    signature = sign(identity.ed25519, save_document("S1", key, sheet)).hex()
    return await scores.commit_score(
        services_for(db),
        seat_key="DL.DL-01",
        idempotency_key=key,
        session_ref="S1",
        sheet=sheet,
        digest=score_digest("S1", sheet),
        signature=signature,
        now=NOW,
    )


async def test_a_replay_is_answered_again_without_a_second_row(
    db: Database, make_identity: Callable[..., SeatIdentity]
) -> None:
    identity = make_identity("DL.DL-01")
    await enrol_approved(db, identity)
    # "S1" names no session: the save is stored with its refusal, which every replay repeats.
    refused = scores.ScoreCommit(
        "committed", False, "unknown-session", "评标会编号「S1」无效，评分未被接受"
    )
    assert await _commit(db, identity, "k1", SHEET) == refused
    # Key order does not change the digest: the same sheet re-serialised is the same payload.
    replayed = await _commit(db, identity, "k1", {"items": {"t1": 8.5}})
    assert replayed == scores.ScoreCommit(
        "replayed", False, "unknown-session", "评标会编号「S1」无效，评分未被接受"
    )
    conflict = await _commit(db, identity, "k1", {"items": {"t1": 9}})
    assert conflict == scores.ScoreCommit(
        "refused",
        False,
        "idempotency-conflict",
        "该评分提交的幂等键已用于内容不同的另一次提交，本次提交未被接受，请联系现场工作人员",
    )
    from sqlalchemy import func, select

    from evaluation_hub.db.seat_terminals import SubmittedScore

    async with db.read() as s:
        assert (await s.execute(select(func.count(SubmittedScore.id)))).scalar_one() == 1


async def test_approving_new_keys_revokes_the_old_ones(
    db: Database, make_identity: Callable[..., SeatIdentity]
) -> None:
    old = make_identity("DL.DL-01", "old")
    new = make_identity("DL.DL-01", "new")
    await enrol_approved(db, old)
    assert await enrolment.lookup_seat(db, "DL.DL-01") == EnrolledSeat(
        "DL.DL-01", old.ed25519_public, "active"
    )
    await enrol_approved(db, new)
    assert await enrolment.lookup_seat(db, "DL.DL-01") == EnrolledSeat(
        "DL.DL-01", new.ed25519_public, "active"
    )
    await enrolment.revoke_seat(db, DL_ADMIN, "DL.DL-01", NOW)
    assert await enrolment.lookup_seat(db, "DL.DL-01") == EnrolledSeat(
        "DL.DL-01", new.ed25519_public, "revoked"
    )
    with pytest.raises(Conflict) as caught:
        await enrolment.revoke_seat(db, DL_ADMIN, "DL.DL-01", NOW)
    assert caught.value.detail == "工位「DL.DL-01」没有可吊销的终端登记"
    assert await enrolment.lookup_seat(db, "DL.DL-02") is None


async def test_a_system_admin_may_approve_any_venue(
    db: Database, make_identity: Callable[..., SeatIdentity]
) -> None:
    identity = make_identity("HH.HH-01")
    await enrolment.record_enrolment(
        db,
        "HH.HH-01",
        identity.ed25519_public,
        identity.x25519_public,
        identity.enrolment_code,
        NOW,
    )
    row = await enrolment.approve_enrolment(
        db,
        Principal("root", "system_admin", None),
        "HH.HH-01",
        NOW,
        enrolment_code=identity.enrolment_code,
    )
    assert (row.status, row.decided_by) == ("approved", "root")
