"""Demo data and the ``evaluation-hub demo`` command (embedded default: SQLite, in-process bus).

Seeds the Yunnan directory from ``configs/demo/directory.yaml``, a session on the next day, and
three booking requests (one waiting with seats held, one waiting for seats, one confirmed), then
serves the hub and prints where to sign in.

It also starts a ``seat-agent run`` process for five seats at the three away venues (DL-01,
DL-02, HH-01, QJ-01, QJ-02; state and logs under ``<state-dir>/seats/``), enrolled and approved
automatically (for the demo only), each publishing the test pattern. With ``--script`` the
bookings are confirmed, the committee seated, check-in opened and the demo bid package attached;
the host experts confirm the integrity commitment at the host (``sessions.formation``) and each
seat's scripted expert (``seat-agent run --script``) confirms it from the seat. Once every
member has confirmed, the hub process starts the evaluation (a lawful committee is required),
enters the host experts' saves and lets the seats play their experts' saves from
``configs/demo/scores.yaml``. Once every sheet is in it runs the deviation review round (the
demo's scores flag nothing; if anything is flagged it stops there for a person), seals,
reveals, sends the result to the seats, and signs for the host experts with keys the demo
generates; each seat's script signs with the seat's own key when the report reaches it, and the
session is ``report_signed`` (``finish_evaluation``). The seat agents are stopped when the hub
stops.

With ``--play EXPERT`` (one of the away experts E03–E07) a person plays that expert: the seat's
agent runs without a script, serving the expert page, and the demo prints the page's address,
the session number, the expert code and a one-time check-in PIN issued through the check-in
store (check-in opens early for the demo). The driver waits for the person as for the scripts:
the check-in and commitment before the start, every sheet, then the review round: it waits
until every review request is answered (the person answers theirs on the page; a deviation
request addressed to a scripted expert the driver answers for them, ``keep``, logged as
``demo.review_answered``), runs a further round if a revision raised new flags, then seals,
reveals, signs for the host experts and waits for the person's signature. Progress lines
(``[演示] …``) say what the person is waited for. Without ``--play`` the demo plays itself.

The ``evaluation-hub demo`` command's options are ``add_arguments``'; ``python -m
evaluation_hub.demo`` takes the same options (``main``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Callable
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import structlog
import yaml
from sqlalchemy import func, select

from evaluation_hub import localtime
from evaluation_hub.admin.passwords import hash_password
from evaluation_hub.booking import answers
from evaluation_hub.config import HubConfig
from evaluation_hub.db.engine import Database
from evaluation_hub.db.models import EvaluationSession, Expert, Seat, SessionExpert, User, Venue
from evaluation_hub.errors import ConfigError
from evaluation_hub.principal import Principal
from evaluation_hub.services import Services
from evaluation_hub.sessions import seat_requests

if TYPE_CHECKING:
    from aiohttp import web

__all__ = [
    "DEMO_DIRECTORY",
    "DEMO_SEATS",
    "ScriptedDemo",
    "finish_evaluation",
    "load_directory",
    "prepare_seats",
    "run",
    "script_evaluation",
    "seed",
    "start_when_committed",
]

log = structlog.get_logger(__name__)

DEMO_DIRECTORY = Path(__file__).resolve().parent.parent / "configs" / "demo" / "directory.yaml"
DEMO_PACKAGE = DEMO_DIRECTORY.parent / "bid_package"
DEMO_SCORES = DEMO_DIRECTORY.parent / "scores.yaml"
# The away seats that run a seat agent, and the committee member seated there with --script.
DEMO_SEATS = {
    "DL.DL-01": "E03",
    "DL.DL-02": "E04",
    "HH.HH-01": "E05",
    "QJ.QJ-01": "E06",
    "QJ.QJ-02": "E07",
}
CAPABILITIES = ["camera", "dual_screen", "microphone"]
# Created beside the seats' scripts once the evaluation started: their first step waits for it.
STARTED_FILE = "evaluation-started"
# The reason the driver gives when it answers a scripted expert's review request for them.
SCRIPT_KEEP_REASON = "演示脚本：维持原评分"
# With --play, check-in opens this long before the booked window (the session is tomorrow).
PLAY_CHECKIN_LEAD = timedelta(days=3)


def say(text: str) -> None:
    """A progress line for the person watching (or playing) the demo."""
    print(f"  [演示] {text}", flush=True)


def load_directory(path: Path = DEMO_DIRECTORY) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
    return data


async def seed(db: Database, now: datetime, *, day: date | None = None) -> dict[str, Any]:
    """Load the demo directory into an empty, migrated database. Returns ids by code."""
    data = load_directory()
    ids: dict[str, Any] = {"venues": {}, "experts": {}, "seats": {}}
    async with db.write() as s:
        if (await s.execute(select(func.count(Venue.id)))).scalar_one():
            raise ConfigError("the demo database already holds data; use --reset to start over")
        for v in data["venues"]:
            venue = Venue(
                code=v["code"],
                name=v["name"],
                region_code=v["region_code"],
                supervising_department=v["supervising_department"],
                contact_name=v["contact_name"],
                contact_phone=v["contact_phone"],
            )
            s.add(venue)
            await s.flush()
            ids["venues"][v["code"]] = venue.id
            spec = v["seats"]
            for n in range(1, spec["count"] + 1):
                seat = Seat(
                    venue_id=venue.id,
                    label=f"{spec['prefix']}{n:02d}",
                    room=spec["room"],
                    capabilities=CAPABILITIES if n % 3 else ["camera", "microphone"],
                    status="available" if n != spec["count"] else "maintenance",
                    shared=True,
                )
                s.add(seat)
                await s.flush()
                ids["seats"][seat.label] = seat.id
        for e in data["experts"]:
            expert = Expert(**e)
            s.add(expert)
            await s.flush()
            ids["experts"][e["code"]] = expert.id
        password = hash_password(data["password"])
        for u in data["users"]:
            s.add(
                User(
                    username=u["username"],
                    display_name=u["display_name"],
                    role=u["role"],
                    venue_id=ids["venues"].get(u.get("venue")),
                    password_hash=password,
                )
            )
        spec = data["session"]
        day = day or (localtime.day_of(now) + timedelta(days=1))
        session = EvaluationSession(
            project_code=spec["project_code"],
            project_name=spec["project_name"],
            section=spec["section"],
            host_venue_id=ids["venues"][spec["host"]],
            starts_at=localtime.at_local(day, time.fromisoformat(spec["start"])),
            ends_at=localtime.at_local(day, time.fromisoformat(spec["end"])),
            committee_size=spec["committee_size"],
            state="scheduled",
            created_at=now,
        )
        s.add(session)
        await s.flush()
        ids["session"] = session.id
        for placement, codes in (("host", spec["host_experts"]), ("away", spec["away_experts"])):
            for code in codes:
                s.add(
                    SessionExpert(
                        session_id=session.id, expert_id=ids["experts"][code], placement=placement
                    )
                )
    ids["password"] = data["password"]
    return ids


async def seed_bookings(hub: Services, ids: dict[str, Any], now: datetime) -> dict[str, int]:
    """Three requests from the host: held seats at 大理, a count at 红河, confirmed at 曲靖."""
    host = Principal("km_operator", "host_operator", ids["venues"]["KM"])
    seats = ids["seats"]
    dali = await seat_requests.request_booking(
        hub,
        host,
        session_id=ids["session"],
        venue_id=ids["venues"]["DL"],
        seat_count=2,
        seat_ids=[seats["DL-01"], seats["DL-02"]],
        now=now,
    )
    honghe = await seat_requests.request_booking(
        hub,
        host,
        session_id=ids["session"],
        venue_id=ids["venues"]["HH"],
        seat_count=1,
        seat_ids=None,
        now=now,
    )
    qujing = await seat_requests.request_booking(
        hub,
        host,
        session_id=ids["session"],
        venue_id=ids["venues"]["QJ"],
        seat_count=2,
        seat_ids=None,
        now=now,
    )
    qj_admin = Principal("qj_admin", "venue_admin", ids["venues"]["QJ"])
    await answers.confirm_booking(
        hub, qj_admin, qujing.id, seat_ids=[seats["QJ-01"], seats["QJ-02"]], now=now
    )
    return {"dali": dali.id, "honghe": honghe.id, "qujing": qujing.id}


async def prepare_seats(
    db: Database, seats_dir: Path, hub_url: str, hub_id: str, now: datetime
) -> list[Path]:
    """Keys for each demo seat, enrolled and approved by its venue admin (demo only).

    A seat whose state names another hub URL (the demo moved port) gets fresh keys, approved
    again (the old key is revoked). Returns the seats' state directories.
    """
    from evaluation_hub.seats import enrolment as seat_store
    from seat_agent.keys import CONFIG_FILE, init_state_dir, load_identity

    async with db.read() as s:
        venues = {v.code: v.id for v in (await s.execute(select(Venue))).scalars()}
    dirs = []
    for seat_id in DEMO_SEATS:
        state = seats_dir / seat_id
        if (state / CONFIG_FILE).exists() and load_identity(state).hub_url == hub_url:
            dirs.append(state)
            continue
        if state.exists():
            shutil.rmtree(state)
        identity = init_state_dir(state, seat_id=seat_id, hub_url=hub_url, hub_id=hub_id)
        code = seat_id.split(".")[0]
        await seat_store.record_enrolment(
            db, seat_id, identity.ed25519_public, identity.x25519_public,
            identity.enrolment_code, now,
        )  # fmt: skip
        admin = Principal(f"{code.lower()}_admin", "venue_admin", venues[code])
        await seat_store.approve_enrolment(
            db, admin, seat_id, now, enrolment_code=identity.enrolment_code
        )
        dirs.append(state)
    return dirs


def _sheet(
    package: Any, shuffle: Any, expert: str, part: str, points: dict[tuple[str, str], str]
) -> dict[str, Any]:
    """One expert's save of one part (technical chapters under that expert's labels)."""
    from scoring.model import COMMERCIAL_PART

    entries = []
    if part == COMMERCIAL_PART:
        for b in package.bidder_ids:
            for i in package.commercial_items:
                entries.append({"subject": b, "item": i.id, "points": points[b, i.id],
                                "comment": "按评标办法计算"})  # fmt: skip
    else:
        chapter = package.chapter(part)
        for label in shuffle.view(expert).chapters[package.chapter_ids.index(part)].labels:
            b = shuffle.bidder_for(expert, part, label)
            for i in chapter.items:
                entries.append({"subject": label, "item": i.id, "points": points[b, i.id],
                                "comment": "见评审意见"})  # fmt: skip
    return {"part": part, "entries": entries}


@dataclasses.dataclass(frozen=True)
class ScriptedDemo:
    """What ``script_evaluation`` prepared for the hub process to finish."""

    session_id: int
    host_venue_id: int
    #: each seat's script file, by seat id
    scripts: dict[str, Path]
    #: the host experts' saves, entered once the evaluation started
    host_saves: list[dict[str, Any]]
    #: created once the evaluation started; the scripts wait for it before their first save
    started: Path
    #: the committee members at the host, who sign the report there
    host_experts: tuple[str, ...] = ("E01", "E02")
    #: the away expert a person plays on the seat's page (``--play``), if any
    played: str | None = None
    #: the one-time check-in PIN issued for ``played``
    played_pin: str | None = None


def played_seat(expert: str) -> str:
    """The demo seat of an away expert a person may play; ``ConfigError`` for anyone else."""
    for seat_id, code in DEMO_SEATS.items():
        if code == expert:
            return seat_id
    raise ConfigError(
        f"--play {expert}: 只能扮演异地工位的专家（{'、'.join(DEMO_SEATS.values())}）"
    )


def _services(config: HubConfig, db: Database, sealer: Any) -> Services:
    """The use cases' services for the demo's steps before the hub serves (no seat links)."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from evaluation_hub.booking.regions import load_distances
    from evaluation_hub.bus.memory import MemoryBus

    return Services(
        config=config,
        db=db,
        sealer=sealer,
        bus=MemoryBus(),
        hub_key=Ed25519PrivateKey.generate(),
        distances=load_distances(),
        clock=lambda: datetime.now(UTC),
    )


async def script_evaluation(
    hub: Services,
    ids: dict[str, Any],
    scripts_dir: Path,
    now: datetime,
    *,
    play: str | None = None,
) -> ScriptedDemo:
    """Run the demo session up to the committee's commitments and write each seat's script.

    Confirms the 大理 and 红河 bookings, seats the committee, opens check-in, attaches the demo
    bid package (releasing b03/ch2, whose identifying marks the demo documents) and confirms
    the host experts' integrity commitment at the host. Each seat's script confirms its
    expert's commitment first, then waits for ``STARTED_FILE`` before its saves, and signs the
    report (agreeing) once the hub sends it; the start itself is ``start_when_committed``'s,
    in the hub process, once the seats have confirmed, and the rest ``finish_evaluation``'s.

    ``play``: the away expert a person plays; that seat gets no script, and a check-in PIN is
    issued (the hub's check-in policy) and returned for that expert only.
    """
    from evaluation_hub.checkin import store as checkin_store
    from evaluation_hub.evaluation.context import stored_shuffle
    from evaluation_hub.evaluation.models import EvaluationPackageRow
    from evaluation_hub.evaluation.package import (
        attach_package,
        record_override,
        start_evaluation,
    )
    from evaluation_hub.sessions import formation
    from evaluation_hub.sessions import store as session_store
    from scoring.model import COMMERCIAL_PART

    db, sealer = hub.db, hub.sealer

    sid = ids["session"]
    seats = ids["seats"]
    bookings = ids["bookings"]
    host = Principal("km_operator", "host_operator", ids["venues"]["KM"])
    for key, code, labels in (("dali", "DL", ["DL-01", "DL-02"]), ("honghe", "HH", ["HH-01"])):
        admin = Principal(f"{code.lower()}_admin", "venue_admin", ids["venues"][code])
        await answers.confirm_booking(
            hub, admin, bookings[key], seat_ids=[seats[x] for x in labels], now=now
        )
    booking_of = {"DL": "dali", "HH": "honghe", "QJ": "qujing"}
    for seat_id, expert in DEMO_SEATS.items():
        code, label = seat_id.split(".")
        await checkin_store.assign_expert(
            hub, host, bookings[booking_of[code]], seats[label], ids["experts"][expert], now=now
        )
    played = play.strip().upper() if play else None
    if played is not None:
        played_seat(played)
    for action in ("confirm_seats", "open_check_in"):
        await session_store.act(
            hub, host, sid, action, reason=None, now=now, start=start_evaluation
        )
    played_pin = None
    if played is not None:
        # Every seated expert gets a PIN (the scripts do not check in); only this one is kept.
        issued = await checkin_store.issue_pins(hub, host, sid, now=now)
        played_pin = next(p.pin for p in issued if p.expert_code == played)
    await attach_package(hub, host, sid, DEMO_PACKAGE, now=now)
    await record_override(
        hub, host, sid, "b03", "ch2", "演示标书：经核对为引用的行业规范示例", now=now
    )
    host_experts = tuple(load_directory()["session"]["host_experts"])
    for expert in host_experts:
        await formation.decide_at_host(hub, host, sid, expert, "confirmed", "", now=now)

    async with db.read() as s:
        row = (
            await s.execute(
                select(EvaluationPackageRow).where(EvaluationPackageRow.session_id == sid)
            )
        ).scalar_one()
    shuffle = stored_shuffle(row, sealer)
    from evaluation_hub.bids.package_io import read_package

    package = read_package(DEMO_PACKAGE)
    scores = yaml.safe_load(DEMO_SCORES.read_text(encoding="utf-8"))
    order = scores["experts"]

    def points(expert: str) -> dict[tuple[str, str], str]:
        n = order.index(expert)
        found = {
            (b, item): values.split()[n]
            for b, items in scores["technical"].items()
            for item, values in items.items()
        }
        for b, items in scores["commercial"].items():
            found |= {(b, item): value for item, value in items.items()}
        return found

    parts = (*package.chapter_ids, COMMERCIAL_PART)
    host_saves = [
        _sheet(package, shuffle, expert, part, points(expert)) | {"expert": expert}
        for expert in host_experts
        for part in parts
    ]
    await asyncio.to_thread(scripts_dir.mkdir, parents=True, exist_ok=True)
    started = scripts_dir / STARTED_FILE
    await asyncio.to_thread(started.unlink, missing_ok=True)
    files = {}
    for seat_id, expert in DEMO_SEATS.items():
        if expert == played:
            continue
        steps: list[dict[str, Any]] = [{"wait_for": STARTED_FILE}]
        steps += [
            {"pause": 3, "sheet": _sheet(package, shuffle, expert, part, points(expert))}
            for part in parts
        ]
        path = scripts_dir / f"{seat_id}.script.yaml"
        script = {"session": str(sid), "commitment": "confirm", "sign": "agree", "steps": steps}
        text = yaml.safe_dump(script, allow_unicode=True)
        await asyncio.to_thread(path.write_text, text, encoding="utf-8")
        files[seat_id] = path
    return ScriptedDemo(
        sid, ids["venues"]["KM"], files, host_saves, started, host_experts, played, played_pin
    )


async def start_when_committed(
    hub: Services,
    demo: ScriptedDemo,
    *,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    poll_s: float = 0.5,
) -> bool:
    """Wait until no member of the committee is pending (the seats' scripts confirm as their
    agents connect), then start the evaluation, enter the host experts' saves and create
    ``demo.started`` for the scripts. False (logged) if the hub refuses the start."""
    from evaluation_hub.errors import ProblemError
    from evaluation_hub.evaluation.package import start_evaluation
    from evaluation_hub.evaluation.saves import save_from_host
    from evaluation_hub.sessions.committee_view import committee_view

    host = Principal("km_operator", "host_operator", demo.host_venue_id)
    sid = demo.session_id
    said = ""
    while True:
        view = await committee_view(hub, host, sid)
        pending = [m.code for m in view.members if m.decision == "pending"]
        if not pending:
            break
        if demo.played in pending:
            text = f"等待 {demo.played} 在专家页面签到并确认评标纪律承诺…"
        else:
            text = f"等待确认评标纪律承诺：{'、'.join(pending)}"
        if text != said:
            said = text
            say(text)
        await asyncio.sleep(poll_s)
    try:
        await start_evaluation(hub, host, sid, reason=None, now=clock())
    except ProblemError as exc:
        log.error("demo.start_refused", session_id=sid, code=exc.code, detail=exc.detail)
        return False
    for save in demo.host_saves:
        await save_from_host(hub, host, sid, save, now=clock())
    await asyncio.to_thread(demo.started.write_text, "started", encoding="utf-8")
    log.info("demo.evaluation_started", session_id=sid, confirmed=view.assessment.size)
    say("全体委员已确认承诺，评标开始")
    if demo.played:
        say(f"{demo.played}：请在专家页面阅读章节，并为每个部分评分、提交")
    return True


async def _state(db: Database, session_id: int) -> str:
    async with db.read() as s:
        state: str = (
            await s.execute(
                select(EvaluationSession.state).where(EvaluationSession.id == session_id)
            )
        ).scalar_one()
    return state


async def finish_evaluation(
    hub: Services,
    demo: ScriptedDemo,
    *,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    poll_s: float = 0.5,
) -> bool:
    """After the start: wait until every member's sheets are in, run the deviation review
    round (it sends its requests to the seats itself) and wait until every request
    is answered: the played expert's by the person on the page, a scripted expert's by this
    driver (``keep``, ``SCRIPT_KEEP_REASON``; a request that cannot be kept is left to a
    person at the host). Once all are answered a further round asks about flags a revision
    raised; when it finds none, seal, reveal (which sends the result to the seats), sign for
    the host experts with keys generated here, and wait
    until the seats signed too (scripts, or the person) and the session is ``report_signed``.

    True once it is; False (logged) if the hub refuses a step."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from evaluation_hub.errors import ProblemError
    from evaluation_hub.evaluation.overview import overview
    from evaluation_hub.evaluation.result import reveal, seal
    from evaluation_hub.evaluation.review import review_round
    from evaluation_hub.evaluation.signatures import sign_report
    from scoring.signing import sign, signature_document

    db = hub.db
    host = Principal("km_operator", "host_operator", demo.host_venue_id)
    sid = demo.session_id
    while True:
        seen = await overview(hub, host, sid, now=clock())
        experts = seen.package.experts
        if all(e.complete for e in seen.experts):
            break
        await asyncio.sleep(poll_s)
    log.info("demo.all_scored", session_id=sid, experts=len(experts))
    say("全部评分表已收齐，进行偏离复核")
    step = "review"
    try:
        while True:
            created = (await review_round(hub, host, sid, now=clock())).requests
            log.info("demo.review", session_id=sid, requests=len(created))
            if not created:
                break
            log.warning(
                "demo.review_flagged",
                session_id=sid,
                requests=[f"{r.expert_code}: {r.message}" for r in created],
                detail="the demo waits until every review request is answered",
            )
            for r in created:
                if r.expert_code == demo.played:
                    say(f"{r.expert_code}：请在专家页面答复复核请求 #{r.id}：{r.message}")
            await _answer_reviews(hub, demo, clock=clock, poll_s=poll_s)
        say("偏离复核完成，封存评审结果")
        step = "seal"
        await seal(hub, host, sid, now=clock())
        log.info("demo.sealed", session_id=sid)
        step = "reveal"
        revealed = await reveal(hub, host, sid, now=clock())
        result: dict[str, Any] = dict(revealed.result)
        ranking = [(r["bidder"], r["composite"]) for r in result.get("ranking", [])]
        log.info("demo.revealed", session_id=sid, ranking=ranking)
        say("评标结果已公布：" + "，".join(f"{b} {c}" for b, c in ranking))
        if demo.played:
            say(f"{demo.played}：请在专家页面签署评标报告")
        step = "sign"
        for expert in demo.host_experts:
            key = Ed25519PrivateKey.generate()
            document = signature_document(str(sid), expert, True, "", result)
            await sign_report(
                hub,
                host,
                sid,
                expert=expert,
                decision="agree",
                reason="",
                public_key=key.public_key().public_bytes_raw().hex(),
                signature=sign(key, document).hex(),
                now=clock(),
            )
            log.info("demo.host_expert_signed", session_id=sid, expert=expert)
    except ProblemError as exc:
        log.error("demo.stopped", session_id=sid, step=step, code=exc.code, detail=exc.detail)
        return False
    # The seats sign over their links in the hub's own handlers: poll the session's state.
    while True:
        if await _state(db, sid) == "report_signed":
            break
        await asyncio.sleep(poll_s)
    log.info("demo.report_signed", session_id=sid, signatures=len(experts))
    say("评标报告已由全体委员签署（report_signed），演示结束；按 Ctrl+C 退出")
    return True


async def _answer_reviews(
    hub: Services,
    demo: ScriptedDemo,
    *,
    clock: Callable[[], datetime],
    poll_s: float,
) -> None:
    """Wait until every review request of the session is answered, answering the scripted
    experts' deviation requests for them (``keep``). Refusals are logged; the request is then
    left to a person at the host."""
    from evaluation_hub.errors import ProblemError
    from evaluation_hub.evaluation import rules
    from evaluation_hub.evaluation.models import ReviewRequestRow
    from evaluation_hub.evaluation.review import answer_request

    db = hub.db
    host = Principal("km_operator", "host_operator", demo.host_venue_id)
    sid = demo.session_id
    tried: set[int] = set()
    waiting: list[int] = []
    while True:
        async with db.read() as s:
            open_ = list(
                (
                    await s.execute(
                        select(ReviewRequestRow)
                        .where(
                            ReviewRequestRow.session_id == sid, ReviewRequestRow.answer.is_(None)
                        )
                        .order_by(ReviewRequestRow.id)
                    )
                ).scalars()
            )
        left = []
        for r in open_:
            if r.expert_code == demo.played or r.id in tried:
                left.append(r)
                continue
            tried.add(r.id)
            if r.reason not in rules.EXPLAINABLE:
                log.warning(
                    "demo.review_needs_person",
                    session_id=sid,
                    request=r.id,
                    expert=r.expert_code,
                    detail="this request must be re-scored: answer it at the host",
                )
                left.append(r)
                continue
            try:
                await answer_request(hub, host, sid, r.id, "keep", SCRIPT_KEEP_REASON, now=clock())
            except ProblemError as exc:
                log.warning(
                    "demo.review_answer_refused", session_id=sid, request=r.id, code=exc.code
                )
                left.append(r)
                continue
            log.info(
                "demo.review_answered",
                session_id=sid,
                request=r.id,
                expert=r.expert_code,
                answer="keep",
                reason=SCRIPT_KEEP_REASON,
            )
        if not left:
            return
        ids = [r.id for r in left]
        if ids != waiting:
            waiting = ids
            say("等待答复复核请求：" + "，".join(f"#{r.id}（{r.expert_code}）" for r in left))
        await asyncio.sleep(poll_s)


def _starter(demo: ScriptedDemo) -> Callable[[web.Application], AsyncIterator[None]]:
    """A cleanup context that runs ``start_when_committed`` and then ``finish_evaluation``
    beside the hub while it serves."""

    async def drive(app: web.Application) -> None:
        from evaluation_hub.api.keys import CLOCK, SERVICES

        hub, clock = app[SERVICES], app[CLOCK]
        if not await start_when_committed(hub, demo, clock=clock):
            return
        await finish_evaluation(hub, demo, clock=clock)

    async def starter(app: web.Application) -> AsyncIterator[None]:
        task = asyncio.create_task(drive(app))
        yield
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    return starter


def page_ports(hub_port: int) -> dict[str, int]:
    """Each demo seat's expert page port: the ports after the hub's."""
    return {seat_id: hub_port + 1 + n for n, seat_id in enumerate(DEMO_SEATS)}


def start_seat_agents(
    dirs: list[Path],
    scripts: dict[str, Path],
    publish: str | None,
    pages: dict[str, int],
    page_keys: dict[str, str],
) -> list[subprocess.Popen[bytes]]:
    """``seat-agent run`` for each seat, logging to ``<seat>.log`` beside its state; each
    expert page's key is handed over in the environment (never on the command line)."""
    from seat_agent.page.guard import PAGE_KEY_ENV

    agents = []
    for state in dirs:
        argv = [sys.executable, "-m", "seat_agent.cli", "run", "--state-dir", str(state)]
        argv += ["--page-port", str(pages[state.name])]
        if publish:
            argv += ["--publish", publish]
        if state.name in scripts:
            argv += ["--script", str(scripts[state.name])]
        with (state.parent / f"{state.name}.log").open("ab") as log:
            env = {**os.environ, PAGE_KEY_ENV: page_keys[state.name]}
            agents.append(subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env=env))
    return agents


def stop_seat_agents(agents: list[subprocess.Popen[bytes]]) -> None:
    for agent in agents:
        if agent.poll() is None:
            agent.send_signal(signal.SIGTERM)
    for agent in agents:
        try:
            agent.wait(timeout=15)
        except subprocess.TimeoutExpired:
            agent.kill()
            agent.wait()


def run(args: argparse.Namespace) -> int:
    from aiohttp import web

    from evaluation_hub.api.app import create_app
    from evaluation_hub.logging import configure_logging
    from seat_agent.page.guard import new_page_key, opening_url

    state = Path(args.state_dir)
    if args.reset and state.exists():
        shutil.rmtree(state)
    state.mkdir(parents=True, exist_ok=True)
    url = f"sqlite+aiosqlite:///{state / 'hub.db'}"
    # The demo keeps its recordings beside its database unless told otherwise.
    config = HubConfig.from_env(state_dir=state, database_url=url, host=args.host, port=args.port)
    if "EVALHUB_RECORDINGS_DIR" not in os.environ:
        config = dataclasses.replace(config, recordings_dir=state / "recordings")
    configure_logging(json=config.json_logs)

    with_seats = not getattr(args, "no_seats", False)
    scripted = getattr(args, "script", False)
    play = getattr(args, "play", None)
    play = play.strip().upper() if play else None
    if scripted and not with_seats:
        raise ConfigError("--script needs the seat agents (their experts confirm and score)")
    if play is not None:
        if not scripted:
            raise ConfigError("--play needs --script (the other experts are scripted)")
        played_seat(play)
        # The session is tomorrow: let the person check in now (demo only).
        config = dataclasses.replace(
            config,
            regulation=dataclasses.replace(
                config.regulation,
                checkin=dataclasses.replace(config.regulation.checkin, lead=PLAY_CHECKIN_LEAD),
            ),
        )
    seats_dir = state / "seats"
    hub_url = f"ws://{config.host}:{config.port}/ws/seat"

    async def prepare() -> tuple[bool, list[Path], ScriptedDemo | None]:
        db = Database(url)
        try:
            await db.upgrade()
            async with db.read() as s:
                empty = not (await s.execute(select(func.count(Venue.id)))).scalar_one()
            if scripted and not empty:
                raise ConfigError("--script needs a fresh demo database; add --reset")
            now = datetime.now(UTC)
            scripted_demo = None
            from evaluation_hub.sealing import Sealer

            sealer = Sealer.from_env_or_file(config.sealing_key, config.sealing_key_file)
            hub = _services(config, db, sealer)
            if empty:
                ids = await seed(db, now)
                ids["bookings"] = await seed_bookings(hub, ids, now)
            dirs = (
                await prepare_seats(db, seats_dir, hub_url, config.hub_id, now)
                if with_seats
                else []
            )
            if scripted:
                scripted_demo = await script_evaluation(hub, ids, seats_dir, now, play=play)
            return empty, dirs, scripted_demo
        finally:
            await db.dispose()

    seeded, seat_dirs, scripted_demo = asyncio.run(prepare())
    scripts = scripted_demo.scripts if scripted_demo is not None else {}
    data = load_directory()
    base = f"http://{config.host}:{config.port}"
    page_keys = {seat_id: new_page_key() for seat_id in DEMO_SEATS}  # one per start
    print(f"\n远程异地评标 主场枢纽 demo ({'seeded' if seeded else 'existing data'}: {url})")
    print(f"  admin page:   {base}/admin   (venue admins: seat directory and booking requests)")
    print(
        f"  host page:    {base}/host    (host site: allocation, session lifecycle, check-in PINs)"
    )
    print(
        f"  supervision:  {base}/supervision   (supervisors: record, incidents, 函告, copy notices)"
    )
    print(f"  API document: {base}/api/openapi.json")
    print(
        f"  sign in as dl_admin / hh_admin / qj_admin / km_operator / km_supervisor / qj_supervisor / sysadmin, password {data['password']}"
    )
    if seat_dirs and not args.seed_only:
        print(
            f"  seat agents:  {', '.join(DEMO_SEATS)} publishing the test pattern; "
            f"logs in {seats_dir}/<seat>.log"
        )
        print(f"  video wall:   {base}/wall   (sign in as km_supervisor: every seat's picture)")
        for seat_id, port in page_ports(config.port).items():
            print(
                f"  expert page:  {opening_url('127.0.0.1', port, page_keys[seat_id])}   "
                f"(seat {seat_id}{'' if not scripted else ', expert ' + DEMO_SEATS[seat_id]})"
                + ("   ← 由您扮演" if play == DEMO_SEATS[seat_id] else "")
            )
    if scripted_demo is not None and not args.seed_only:
        print(
            f"  scripted evaluation: {data['session']['project_code']} is in check-in; "
            "E01/E02 confirmed the commitment at the host, E03–E07 confirm from their seats; "
            "once all seven have, the evaluation starts, E01/E02's saves are entered at the "
            "host and E03–E07 save from their seats every few seconds; once every sheet is "
            "in, the hub runs the deviation review, seals, reveals, signs for E01/E02 at the "
            "host and E03–E07 sign from their seats (the log says demo.report_signed).\n"
            f"    open {base}/host as km_operator to watch it; the signed report is at "
            f"{base}/api/sessions/{scripted_demo.session_id}/evaluation/report (signed in as "
            "km_operator); the expected ranking is in configs/demo/scores.yaml"
        )
    if scripted_demo is not None and scripted_demo.played and not args.seed_only:
        seat_id = played_seat(scripted_demo.played)
        page = opening_url("127.0.0.1", page_ports(config.port)[seat_id], page_keys[seat_id])
        print(
            f"\n  ===== 由您扮演专家 {scripted_demo.played}（工位 {seat_id}）=====\n"
            f"  1. 打开专家页面：{page}\n"
            f"  2. 签到：评标会编号 {scripted_demo.session_id}，"
            f"专家编号 {scripted_demo.played}，签到码 {scripted_demo.played_pin}（一次性，仅本次有效）\n"
            "  3. 核对投标人数量后确认评标纪律承诺；其余委员全部确认后评标自动开始\n"
            "  4. 阅读各章节，为每个部分（技术章节和商务部分）评分并提交\n"
            "  5. 如收到偏离复核请求，在页面答复（保留原评分须写明理由，或重新评分后答复）\n"
            "  6. 结果公布后在页面签署评标报告；全体签署后演示结束（report_signed）\n"
            "  下面的 [演示] 行说明演示正在等待什么。\n",
            flush=True,
        )
    if args.seed_only:
        return 0
    app = create_app(config)
    if scripted_demo is not None:
        app.cleanup_ctx.append(_starter(scripted_demo))
    agents = start_seat_agents(
        seat_dirs, scripts, "testpattern", page_ports(config.port), page_keys
    )
    try:
        web.run_app(app, host=config.host, port=config.port, print=None)
    finally:
        stop_seat_agents(agents)
    return 0
