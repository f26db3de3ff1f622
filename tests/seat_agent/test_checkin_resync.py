"""A seat agent restarted after its expert checked in finds the check-in and the briefing again
(the PIN is used up, so checking in again is not possible), and a second check-in at the
same seat is refused with the hub's Chinese message. A recusal declared at the seat is
recorded on the membership and releases the seat, with audit events of the session."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from evaluation_hub.audit.models import AuditEventRow
from evaluation_hub.db.engine import Database
from evaluation_hub.db.models import BookingSeat, SessionExpert
from seat_agent.keys import load_identity
from seat_agent.page.desk import DeskRefused, ExpertDesk
from seat_agent.runner import SeatAgent
from seat_protocol.messages import CommitmentDecision
from tests.conftest import FakeClock
from tests.seat_agent.test_page_flow import EXPERT, Client, expert_seat, until


async def test_a_restarted_agent_finds_its_checked_in_expert(
    client: Client, seeded: dict[str, Any], database: Database, clock: FakeClock, tmp_path: Path
) -> None:
    async with expert_seat(client, seeded, database, clock, tmp_path) as seat:
        sid = str(seat.sid)
        await seat.desk.check_in(sid, EXPERT, seat.pin)
        await until(lambda: seat.desk.briefing is not None, "the briefing")
        assert seat.desk.checkin.status == "accepted"

        # The agent process ends; a new one starts from the same state directory.
        seat.stop.set()
        await asyncio.wait(seat.tasks)
        identity = load_identity(seat.agent.identity.state_dir)
        agent = await SeatAgent.open(identity)
        desk = ExpertDesk(identity, agent.delivery, agent.link.send)
        agent.add_handler(desk.on_event)
        stop = asyncio.Event()
        task = asyncio.create_task(agent.run(stop))
        try:
            await until(lambda: desk.briefing is not None, "the briefing after the restart")
            assert desk.checkin.status == "accepted"
            assert desk.checkin.message == f"专家 {EXPERT} 已在本工位签到"
            assert desk.briefing.session_id == sid and desk.briefing.bidder_count == 5
            assert desk.commitment is None  # the commitment is made again on the new page

            # The PIN was used once: a second check-in is refused, attempts untouched.
            desk.checkin.status = "none"
            await desk.check_in(sid, EXPERT, seat.pin)
            refused = await until(
                lambda: desk.checkin.status == "refused" and desk.checkin, "the refusal"
            )
            assert refused.message.startswith("签到码已于 ")
            assert refused.message.endswith(" 使用，每个签到码只能使用一次")
            assert refused.attempts_left == 5
        finally:
            stop.set()
            await asyncio.wait({task})


async def test_a_recusal_at_the_seat_is_recorded_for_the_host(
    client: Client, seeded: dict[str, Any], database: Database, clock: FakeClock, tmp_path: Path
) -> None:
    async with expert_seat(client, seeded, database, clock, tmp_path) as seat:
        sid = str(seat.sid)
        await seat.desk.check_in(sid, EXPERT, seat.pin)
        await until(lambda: seat.desk.briefing is not None, "the briefing")
        # No cause: refused at the seat, nothing sent, and the expert may still decide.
        with pytest.raises(DeskRefused) as refused:
            await seat.desk.commit("recused", "  ")
        assert (refused.value.message, seat.desk.commitment) == ("申请回避须说明回避事由", None)
        await seat.desk.commit("recused", " 曾任投标人技术顾问 ")
        await until(lambda: seat.desk.commitment_result, "the recusal recorded")
        assert (
            seat.desk.commitment_result == "已记录回避申请，请等待主场工作人员安排；本工位不再评分"
        )
        with pytest.raises(DeskRefused) as refused:
            await seat.desk.submit("ch1", {})
        assert refused.value.message == "请先阅读并确认评标纪律承诺，再开始评分"
        async with database.read() as s:
            rows = (
                (
                    await s.execute(
                        select(AuditEventRow).where(AuditEventRow.kind.like("committee.%"))
                    )
                )
                .scalars()
                .all()
            )
            member = (
                await s.execute(
                    select(SessionExpert).where(
                        SessionExpert.session_id == seat.sid,
                        SessionExpert.expert_id == seeded["experts"][EXPERT],
                    )
                )
            ).scalar_one()
            held = (
                await s.execute(
                    select(BookingSeat.expert_id).where(
                        BookingSeat.seat_id == seeded["seats"]["QJ-01"], BookingSeat.live.is_(True)
                    )
                )
            ).scalar_one()
        assert [(r.kind, r.subject, r.actor, r.payload) for r in rows] == [
            (
                "committee.recusal_declared",
                f"session:{sid}",
                "seat:QJ.QJ-01",
                {"expert": EXPERT, "reason": "曾任投标人技术顾问"},
            ),
            (
                "committee.seat_released",
                f"session:{sid}",
                "seat:QJ.QJ-01",
                {"expert": EXPERT, "seat_id": seeded["seats"]["QJ-01"]},
            ),
        ]
        # The membership records the recusal, and the seat no longer holds the expert.
        assert (member.decision, member.decision_reason) == ("recused", "曾任投标人技术顾问")
        assert held is None


async def test_a_commitment_the_hub_refuses_can_be_made_again(
    client: Client, seeded: dict[str, Any], database: Database, clock: FakeClock, tmp_path: Path
) -> None:
    async with expert_seat(client, seeded, database, clock, tmp_path) as seat:
        sid = str(seat.sid)
        await seat.desk.check_in(sid, EXPERT, seat.pin)
        await until(lambda: seat.desk.briefing is not None, "the briefing")
        # What a page without the seat's own check sent: a recusal without its cause. The hub
        # refuses it; the expert was not left with a decision the hub never recorded.
        seat.desk.commitment = "recused"
        await seat.desk.send(CommitmentDecision(session_id=sid, decision="recused", reason=""))
        await until(lambda: seat.desk.commitment_refused, "the hub's refusal")
        assert (seat.desk.commitment, seat.desk.commitment_refused) == (
            None,
            "声明回避必须说明回避事由",
        )
        assert (await seat.desk.view())["commitment_refused"] == "声明回避必须说明回避事由"
        await seat.desk.commit("confirmed")
        await until(lambda: seat.desk.commitment_result, "the commitment recorded")
        assert (seat.desk.commitment_result, seat.desk.commitment_refused) == (
            "已记录评标纪律承诺",
            "",
        )
