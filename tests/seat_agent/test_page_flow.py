"""The expert's page against a real hub (``create_app`` on loopback) and a real in-process seat
agent: check-in with a wrong and a right PIN, the briefing, scoring through the outbox, a
deviation review pushed to the seat and answered there, and the report signed with the seat's
key. ``ExpertSeat`` is reused by the browser test (tests/browser/test_expert_page.py); it serves
the page as ``seat-agent run`` does (``start_page``), so ``opening_url`` is the address the
agent prints. The page's API is called as the page's script calls it: with the key from the
address's fragment (``X-Seat-Key``) and ``X-Seat-Page: 1``."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from evaluation_hub.api.keys import CONFIG
from evaluation_hub.db.engine import Database
from evaluation_hub.principal import Principal
from evaluation_hub.seats import enrolment as seat_store
from scoring.model import COMMERCIAL_PART
from scoring.shuffle import StaggeredShuffle
from scoring.signing import sign
from seat_agent.keys import init_state_dir
from seat_agent.page.app import DESK, make_app, start_page
from seat_agent.page.desk import DeskRefused, ExpertDesk, signature_document
from seat_agent.page.guard import new_page_key
from seat_agent.runner import SeatAgent
from seat_protocol.events import Event, MessageReceived
from seat_protocol.messages import ReportSignature, RequestResult, ReviewAnswer
from tests.conftest import FakeClock
from tests.evaluation.helpers import act, attach, demo_package, hub_shuffle, proxy
from tests.evaluation.helpers import part_save as make_save
from tests.hub.helpers import confirm_committee, login
from tests.support.seed import seed_bookings

Client = TestClient[Any, Any]

MID = {"1.1": "7", "1.2": "3.5", "2.1": "6", "2.2": "5", "3.1": "4", "3.2": "3"}
BIDDERS = ("b01", "b02", "b03", "b04", "b05")
SEAT = "QJ.QJ-01"
EXPERT = "E06"
COMMENT = "见评审意见"


def page_headers(key: str) -> dict[str, str]:
    """What the page's script sends with every request."""
    return {"X-Seat-Key": key, "X-Seat-Page": "1"}


def key_of(opening_url: str) -> str:
    """The key in an opening address's fragment (``#k=…``), as the page's script reads it."""
    fragment = urlsplit(opening_url).fragment
    assert fragment.startswith("k="), opening_url
    return fragment[2:]


def points(**changes: str) -> dict[tuple[str, str], str]:
    table = {(b, i): v for b in BIDDERS for i, v in MID.items()}
    for b in BIDDERS:
        table[b, "c1"], table[b, "c2"] = "12", "5"
    for key, value in changes.items():
        bidder, item = key.split("_", 1)
        table[bidder, item.replace("_", ".")] = value
    return table


# E06, at the seat, scores b01's item 1.1 far below everyone else: its chapter 1 total for b01
# (3 + 3.5 = 6.5 against the others' 10.5) is far from the mean, a deviation review for E06.
SEAT_POINTS = {**points(), ("b01", "1.1"): "3"}


async def until(check: Callable[[], Any], what: str, limit: float = 60.0) -> Any:
    """Poll ``check`` until it returns something true (``limit`` only ends a hung test)."""
    for _ in range(int(limit / 0.05)):
        value = check()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return value
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


@dataclass
class ExpertSeat:
    """A seated, enrolled expert's seat terminal (agent + page) and the host's session."""

    client: Client
    database: Database
    clock: FakeClock
    host: dict[str, str]
    sid: int
    pin: str
    agent: SeatAgent
    desk: ExpertDesk
    page: web.AppRunner
    opening_url: str  # what ``seat-agent run`` prints: the page, the key in the fragment
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    stop: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def page_url(self) -> str:
        return self.opening_url.split("#", 1)[0].rstrip("/")

    @property
    def page_key(self) -> str:
        return key_of(self.opening_url)

    async def shuffle(self) -> StaggeredShuffle:
        return await hub_shuffle(self.client, self.database, self.sid)

    async def api(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        resp = await self.client.request(method, path, json=body, headers=self.host)
        return resp.status, await resp.json(content_type=None)

    async def score_others(self) -> None:
        """Every other member's saves, entered by the host (代录: not checked in at a seat)."""
        package = demo_package()
        shuffle = await self.shuffle()
        for expert in shuffle.manifest.expert_ids:
            if expert == EXPERT:
                continue
            # E01 scores b02's item 2.1 far below the others: a review request not for E06.
            table = points(b02_2_1="1") if expert == "E01" else points()
            for part in (*package.chapter_ids, COMMERCIAL_PART):
                save = proxy(make_save(package, shuffle, expert, part, table))
                status, body = await self.api(
                    "POST", f"/api/sessions/{self.sid}/evaluation/scores", save
                )
                assert status == 201, body

    async def answer_others(self, created: list[dict[str, Any]]) -> None:
        """The host records the other members' answers (keep, with reasons)."""
        for r in created:
            if r["expert"] != EXPERT:
                status, body = await self.api(
                    "POST",
                    f"/api/sessions/{self.sid}/evaluation/review-requests/{r['id']}/answer",
                    {"answer": "keep", "reason": "经复核维持原评分"},
                )
                assert status == 200, body

    async def seat_values(self, part: dict[str, Any]) -> dict[str, dict[str, str]]:
        """The form of one part as E06 fills it (labels mapped back with the hub's shuffle)."""
        shuffle = await self.shuffle()
        values = {}
        for subject in part["subjects"]:
            bidder = (
                subject
                if part["part"] == COMMERCIAL_PART
                else shuffle.bidder_for(EXPERT, part["part"], subject)
            )
            for item in part["items"]:
                values[f"{subject}|{item['id']}"] = {
                    "points": SEAT_POINTS[bidder, item["id"]],
                    "comment": COMMENT,
                }
        return values

    async def close(self) -> None:
        self.stop.set()
        await asyncio.wait(self.tasks)
        await self.page.cleanup()


@contextlib.asynccontextmanager
async def expert_seat(
    client: Client,
    seeded: dict[str, Any],
    database: Database,
    clock: FakeClock,
    tmp: Path,
    package: Path | None = None,
) -> AsyncIterator[ExpertSeat]:
    bookings = await seed_bookings(database, seeded, clock())
    host = await login(client, "km_operator")
    sid = seeded["session"]
    resp = await client.post(
        f"/api/bookings/{bookings['qujing']}/seats/{seeded['seats']['QJ-01']}/expert",
        json={"expert_id": seeded["experts"][EXPERT]},
        headers=host,
    )
    assert resp.status == 204, await resp.text()
    assert client.app is not None
    identity = init_state_dir(
        tmp / "seat",
        seat_id=SEAT,
        hub_url=f"ws://127.0.0.1:{client.port}/ws/seat",
        hub_id=client.app[CONFIG].hub_id,
    )
    await seat_store.record_enrolment(
        database,
        SEAT,
        identity.ed25519_public,
        identity.x25519_public,
        identity.enrolment_code,
        clock(),
    )
    qj_admin = Principal("qj_admin", "venue_admin", seeded["venues"]["QJ"])
    await seat_store.approve_enrolment(
        database, qj_admin, SEAT, clock(), enrolment_code=identity.enrolment_code
    )
    await act(client, host, sid, "confirm_seats", "open_check_in")
    resp = await (attach(client, host, sid, package) if package else attach(client, host, sid))
    assert resp.status == 201, await resp.text()
    resp = await client.post(
        f"/api/sessions/{sid}/evaluation/overrides",
        json={"bidder_id": "b03", "chapter_id": "ch2", "reason": "经监督人员确认放行"},
        headers=host,
    )
    assert resp.status == 201, await resp.text()
    resp = await client.post(f"/api/sessions/{sid}/checkin-pins", headers=host)
    assert resp.status == 201, await resp.text()
    pin = next(p["pin"] for p in (await resp.json())["pins"] if p["expert_code"] == EXPERT)
    # Into the booked window: check-in opens an hour before the session (2026-12-01 09:00+08).
    clock.advance(hours=23, minutes=30)
    host = await login(client, "km_operator")  # the earlier token expired meanwhile

    agent = await SeatAgent.open(identity)
    page, url = await start_page(agent, 0, "127.0.0.1", new_page_key())
    desk = page.app[DESK]
    seat = ExpertSeat(client, database, clock, host, sid, pin, agent, desk, page, url)
    seat.tasks.append(asyncio.create_task(agent.run(seat.stop)))
    try:
        await until(lambda: desk.aligned, "the seat's first connection")
        yield seat
    finally:
        await seat.close()


async def _post(http: TestClient[Any, Any], path: str, body: Any) -> tuple[int, Any]:
    resp = await http.post(path, json=body)
    return resp.status, await resp.json(content_type=None)


async def _state(http: TestClient[Any, Any]) -> dict[str, Any]:
    resp = await http.get("/api/state")
    assert resp.status == 200
    data: dict[str, Any] = await resp.json()
    return data


async def test_check_in_score_review_and_sign_over_the_seat_link(
    client: Client, seeded: dict[str, Any], database: Database, clock: FakeClock, tmp_path: Path
) -> None:
    async with (
        expert_seat(client, seeded, database, clock, tmp_path) as seat,
        TestClient(
            TestServer(make_app(seat.desk, seat.agent.chapters, page_key=seat.page_key)),
            headers=page_headers(seat.page_key),
        ) as http,
    ):
        sid = seat.sid
        results: dict[str, RequestResult] = {}

        async def collect(event: Event) -> None:
            if isinstance(event, MessageReceived) and isinstance(event.message, RequestResult):
                results[event.message.ref] = event.message

        seat.agent.add_handler(collect)
        # --- check-in: a wrong PIN uses an attempt, and the refusal is the hub's Chinese text
        wrong = "000000" if seat.pin != "000000" else "111111"
        status, body = await _post(
            http, "/api/checkin", {"session_id": str(sid), "expert_code": EXPERT, "pin": wrong}
        )
        assert status == 202, body
        refused = await until(
            lambda: seat.desk.checkin.status == "refused" and seat.desk.checkin, "the refusal"
        )
        assert (refused.message, refused.attempts_left) == ("签到码错误，还可尝试 4 次", 4)
        status, body = await _post(
            http, "/api/checkin", {"session_id": "99999", "expert_code": EXPERT, "pin": seat.pin}
        )
        refused = await until(
            lambda: (
                seat.desk.checkin.status == "refused"
                and "99999" in seat.desk.checkin.message
                and seat.desk.checkin
            ),
            "the wrong session's refusal",
        )
        assert refused.message == "本工位没有评标会 #99999 的预约，请核对评标会编号"
        status, body = await _post(
            http, "/api/checkin", {"session_id": str(sid), "expert_code": EXPERT, "pin": seat.pin}
        )
        assert status == 202, body
        await until(lambda: seat.desk.briefing is not None, "the briefing")
        state = await _state(http)
        assert state["checkin"]["status"] == "accepted"
        assert state["checkin"]["message"] == f"专家 {EXPERT} 签到成功"
        brief = state["briefing"]
        assert (brief["expert"], brief["bidder_count"]) == (EXPERT, 5)
        assert [p["part"] for p in brief["parts"]] == ["ch1", "ch2", "ch3", "commercial"]
        shown = str(state)
        for bidder in demo_package().bidders:
            assert bidder.name not in shown

        # --- scoring waits for the integrity commitment; a bad form is refused locally
        part = brief["parts"][0]
        values = await seat.seat_values(part)
        status, body = await _post(http, "/api/scores", {"part": "ch1", "values": values})
        assert (status, body["detail"]) == (422, "请先阅读并确认评标纪律承诺，再开始评分")
        status, body = await _post(http, "/api/commitment", {"decision": "confirmed"})
        assert status == 200, body
        await until(lambda: seat.desk.commitment_result, "the commitment recorded")
        assert seat.desk.commitment_result == "已记录评标纪律承诺"
        status, body = await _post(http, "/api/commitment", {"decision": "recused"})
        assert (status, body["detail"]) == (422, "已作出承诺或回避申请，不能更改")
        # Every other member confirms too: the review starts with the seven who confirmed.
        await confirm_committee(database, sid, clock())
        await act(client, seat.host, sid, "start_evaluation")
        first = f"{part['subjects'][0]}|1.1"
        bad = {**values, first: {"points": "7.3", "comment": ""}}
        status, body = await _post(http, "/api/validate", {"part": "ch1", "values": bad})
        assert body["problems"] == {first: "得分 7.3 不是步长 0.5 的整数倍"}
        status, body = await _post(http, "/api/scores", {"part": "ch1", "values": bad})
        assert (status, body["detail"], body["problems"]) == (
            422,
            "评分表尚有 1 处问题",
            {first: "得分 7.3 不是步长 0.5 的整数倍"},
        )
        # A save the hub refuses (the session is paused) is shown refused, with the hub's
        # reason, never as delivered; the expert saves it again once it can count.
        status, body = await seat.api(
            "POST", f"/api/sessions/{sid}/actions", {"action": "pause", "reason": "网络检修"}
        )
        assert status == 200, body
        status, body = await _post(http, "/api/scores", {"part": "ch1", "values": values})
        assert status == 201, body
        refused_key = body["key"]

        async def refused_shown() -> dict[str, Any] | None:
            saves = (await _state(http))["saves"]
            return next((s for s in saves if s["status"] == "refused"), None)

        shown = await until(refused_shown, "the refusal on the page")
        reason = "评分表未被接受（已记录，不计入）：评标会当前状态为「已暂停」，不接受评分"
        assert shown == {
            "key": refused_key,
            "part": "ch1",
            "status": "refused",
            "label": f"主场未接受：{reason}（请修改后重新提交）",
            "reason": reason,
        }
        [verdict] = await seat.agent.outbox.verdicts()
        assert (verdict.idempotency_key, verdict.accepted, verdict.code, verdict.message) == (
            refused_key,
            False,
            "not-scoring",
            reason,
        )
        status, body = await seat.api(
            "POST", f"/api/sessions/{sid}/actions", {"action": "resume", "reason": "网络恢复"}
        )
        assert status == 200, body
        for part in brief["parts"]:
            status, body = await _post(
                http, "/api/scores", {"part": part["part"], "values": await seat.seat_values(part)}
            )
            assert status == 201, body

        async def all_delivered() -> bool:
            saves = (await _state(http))["saves"][1:]
            return len(saves) == 4 and all(s["label"] == "已送达" for s in saves)

        await until(all_delivered, "every save acknowledged")
        assert await seat.agent.outbox.pending() == []
        # The host enters nothing for E06, who is checked in at this seat.
        e06 = proxy(make_save(demo_package(), await seat.shuffle(), EXPERT, "ch1", SEAT_POINTS))
        status, body = await seat.api("POST", f"/api/sessions/{sid}/evaluation/scores", e06)
        assert (status, body["detail"]) == (
            403,
            f"专家 {EXPERT} 已在工位 {SEAT} 签到，评分须由该工位提交，主场不能代录",
        )

        # --- the host's review round reaches the seat; E06 keeps 1.1 with written reasons
        await seat.score_others()
        clock.advance(minutes=5)  # the review round comes after the saves
        status, body = await seat.api("POST", f"/api/sessions/{sid}/evaluation/review")
        assert status == 201, body
        body_created = body["created"]
        mine = [r for r in body_created if r["expert"] == EXPERT]
        # On part totals: E06's ch1 total for b01 6.5 against 10.5 ×6: mean 69.5/7 = 9.93,
        # 30 % = 2.98, |6.5 − 9.93| = 3.43 → one request, about the chapter total.
        assert [(r["reason"], r["part"], r["item"]) for r in mine] == [("deviation", "ch1", None)]
        await until(lambda: len(seat.desk.reviews) == len(mine), "the review requests")
        reviews = (await _state(http))["reviews"]
        assert {r["id"] for r in reviews} == {r["id"] for r in mine}
        [item] = reviews
        assert item["spread"] == {"yours": "6.5", "others": ["10.5"] * 6, "mean": "9.93"}
        assert item["informational"] is False
        # The host does not answer for E06, who is checked in at this seat.
        status, body = await seat.api(
            "POST",
            f"/api/sessions/{sid}/evaluation/review-requests/{item['id']}/answer",
            {"answer": "keep", "reason": "代答"},
        )
        assert (status, body["detail"]) == (
            403,
            f"专家 {EXPERT} 已在工位 {SEAT} 签到，复核答复须由该工位提交，主场不能代为答复",
        )
        status, body = await _post(http, f"/api/reviews/{item['id']}", {"answer": "keep"})
        assert (status, body["detail"]) == (422, "保留原评分须书面说明理由")
        # The seat may answer only its own expert's requests (checked at the hub too).
        other = next(r for r in body_created if r["expert"] != EXPERT)
        await seat.agent.link.send(
            ReviewAnswer(session_id=str(sid), request_id=other["id"], answer="keep", reason="理由")
        )
        refusal = await until(lambda: results.get(f"review:{other['id']}"), "the refusal")
        assert (refusal.accepted, refusal.code, refusal.message) == (
            False,
            "not-seated-expert",
            f"工位 {SEAT} 安排的不是专家 {other['expert']}，不能代其答复或签署",
        )
        # E06 re-scores (the page asks for a reason for the change), then answers "revise".
        status, body = await _post(http, f"/api/reviews/{item['id']}", {"answer": "revise"})
        assert status == 202, body  # sent, but the hub has no new save yet
        await until(lambda: seat.desk.reviews[item["id"]].status == "refused", "the refusal")
        assert seat.desk.reviews[item["id"]].message == (
            f"专家 {EXPERT} 尚未重新提交 ch1 的评分，请先重新评分再答复"
        )
        ch1 = brief["parts"][0]
        values = await seat.seat_values(ch1)
        changed = f"{item['subject']}|1.1"
        values[changed] = {"points": "7", "comment": ""}
        status, body = await _post(http, "/api/validate", {"part": "ch1", "values": values})
        assert body["problems"] == {changed: "复核中修改了得分，须填写修改理由"}
        values[changed]["comment"] = "复核后按评分标准调整"
        status, body = await _post(http, "/api/scores", {"part": "ch1", "values": values})
        assert status == 201, body
        for r in reviews:
            status, body = await _post(http, f"/api/reviews/{r['id']}", {"answer": "revise"})
            assert status == 202, body
        await until(
            lambda: all(r.status == "answered" for r in seat.desk.reviews.values()),
            "the answers recorded",
        )
        await seat.answer_others(body_created)

        # --- seal, reveal: the result comes to the seat, which signs it with its key
        for step in ("seal", "reveal"):
            status, body = await seat.api("POST", f"/api/sessions/{sid}/evaluation/{step}")
            assert status == 200, body
        await until(lambda: seat.desk.report is not None, "the result to sign")
        # A signature the seat's key did not make over this result is refused by the hub.
        report = seat.desk.report
        assert report is not None
        forged = Ed25519PrivateKey.generate()
        document = signature_document(str(sid), EXPERT, True, "", report.result)
        await seat.agent.link.send(
            ReportSignature(
                session_id=str(sid),
                decision="agree",
                reason="",
                public_key=seat.agent.identity.ed25519_public.hex(),
                signature=sign(forged, document).hex(),
            )
        )
        refusal = await until(lambda: results.get(f"signature:{sid}"), "the signature refusal")
        assert (refusal.accepted, refusal.code) == (False, "signature-invalid")
        status, body = await _post(http, "/api/signature", {"decision": "disagree"})
        assert (status, body["detail"]) == (422, "不同意评标结论的，须书面说明不同意见和理由")
        status, body = await _post(http, "/api/signature", {"decision": "agree"})
        assert status == 202, body
        await until(
            lambda: seat.desk.signature is not None and seat.desk.signature["status"] == "signed",
            "the signature recorded",
        )
        resp = await client.get(f"/api/sessions/{sid}/evaluation/report", headers=seat.host)
        html = await resp.text()
        assert resp.status == 200 and html.count("尚未签署") == 6


async def test_the_page_refuses_what_it_cannot_do_yet(tmp_path: Path) -> None:
    """Without a link: no check-in is sent, forms are checked, posts must be JSON."""
    from seat_agent.outbox import ScoreDelivery, ScoreOutbox

    identity = init_state_dir(
        tmp_path / "seat", seat_id=SEAT, hub_url="ws://127.0.0.1:9/ws/seat", hub_id="h"
    )
    outbox = await ScoreOutbox.open(tmp_path / "outbox.db")
    sent: list[Any] = []

    async def send(msg: Any) -> Any:
        sent.append(msg)
        return msg

    desk = ExpertDesk(identity, ScoreDelivery(outbox, None), send)  # type: ignore[arg-type]
    key = new_page_key()
    app: web.Application = make_app(desk, page_key=key)
    async with TestClient(TestServer(app), headers=page_headers(key)) as http:
        status, body = await _post(http, "/api/checkin", {"session_id": "x", "pin": ""})
        assert (status, body["detail"], body["problems"]) == (
            422,
            "签到信息不完整",
            {
                "session_id": "请填写评标会编号（数字）",
                "expert_code": "请填写专家编号",
                "pin": "请填写签到码",
            },
        )
        status, body = await _post(
            http, "/api/checkin", {"session_id": "7", "expert_code": "E06", "pin": "123456"}
        )
        assert (status, body["detail"]) == (422, "评标终端尚未连接主场，请稍候再试")
        resp = await http.post("/api/checkin", data="session_id=7")
        assert resp.status == 415
        assert (await resp.json(content_type=None))["detail"] == (
            "请求须为 JSON（Content-Type: application/json）"
        )
        status, body = await _post(http, "/api/scores", {"part": "ch1", "values": {}})
        assert (status, body["detail"]) == (422, "请先阅读并确认评标纪律承诺，再开始评分")
        resp = await http.get("/api/chapters/ch1-A")
        assert resp.status == 403
        resp = await http.get("/")
        assert resp.status == 200 and "专家签到" in await resp.text()
    assert sent == []
    await outbox.close()


async def test_an_objective_item_settles_at_the_seat_told_not_asked(
    client: Client, seeded: dict[str, Any], database: Database, clock: FakeClock, tmp_path: Path
) -> None:
    """E06 at the seat gives b01's objective commercial item c1 the value most members gave;
    E01 (entered at the host) gives another. E06 is told, not asked: the notice reaches the
    seat, the page takes no answer; once E01 re-scores to the common value, the hub closes it
    and the seat hears so."""
    async with expert_seat(client, seeded, database, clock, tmp_path) as seat:
        sid, desk = seat.sid, seat.desk
        await desk.check_in(str(sid), EXPERT, seat.pin)
        await until(lambda: desk.briefing is not None, "the briefing")
        await desk.commit("confirmed")
        await until(lambda: desk.commitment_result, "the commitment recorded")
        await confirm_committee(database, sid, clock())
        status, body = await seat.api(
            "POST", f"/api/sessions/{sid}/actions", {"action": "start_evaluation"}
        )
        assert status == 200, body
        assert desk.briefing is not None
        for part in desk.briefing.rubric["parts"]:
            values = await seat.seat_values(part)
            values = {
                k: {**v, "points": "7"} if k.endswith("|1.1") else v for k, v in values.items()
            }
            await desk.submit(part["part"], values)
        await until(lambda: all(s.delivered for s in desk.saves), "the seat's saves accepted")
        package = demo_package()
        shuffle = await seat.shuffle()
        for expert in shuffle.manifest.expert_ids:
            if expert == EXPERT:
                continue
            table = points(b01_c1="16") if expert == "E01" else points()
            for part in (*package.chapter_ids, COMMERCIAL_PART):
                save = proxy(make_save(package, shuffle, expert, part, table))
                status, body = await seat.api(
                    "POST", f"/api/sessions/{sid}/evaluation/scores", save
                )
                assert status == 201, body
        status, body = await seat.api("POST", f"/api/sessions/{sid}/evaluation/review")
        assert status == 201, body
        told = [r for r in body["created"] if r["expert"] == EXPERT]
        assert [(r["item"], r["informational"]) for r in told] == [("c1", True)]
        await until(lambda: told[0]["id"] in desk.reviews, "the notice at the seat")
        notice = desk.reviews[told[0]["id"]].notice
        assert (notice.informational, notice.explainable) == (True, False)
        with pytest.raises(DeskRefused) as refused:
            await desk.answer(told[0]["id"], "revise", "")
        assert refused.value.message == f"复核通知 #{told[0]['id']} 仅供知悉，无需答复"

        # E01 re-scores c1 to 12, as the others gave: the notice closes itself at the seat.
        clock.advance(minutes=1)
        save = proxy(make_save(package, shuffle, "E01", COMMERCIAL_PART, points(), "已核对"))
        status, body = await seat.api("POST", f"/api/sessions/{sid}/evaluation/scores", save)
        assert status == 201, body
        review = desk.reviews[told[0]["id"]]
        await until(lambda: review.status == "settled", "the settled notice at the seat")
        assert review.message == (
            "各专家对客观评分项 commercial c1 的评分已一致（12），该复核已自动关闭，无需答复"
        )
