"""A whole evaluation with real processes: one ``evaluation-hub serve`` (SQLite file) and seven
``seat-agent`` terminals, each its own process (init, enroll, approved by its venue admin over
HTTP, ``run --script``). Seven experts, every one at a seat terminal: E01 and E02 at the host's
own seats (KM-01, KM-02, booked and confirmed like the away ones), E03, E04 at 大理 (DL-01,
DL-02), E05 at 红河 (HH-01), E06, E07 at 曲靖 (QJ-01, QJ-02); each scores from their seat
through the outbox (every save signed with the seat's key and judged as it is stored) and
signs the report from it.

Committee formation. Every seat script first confirms the integrity commitment
(``commitment: confirm``), and the evaluation is started only once all seven have confirmed;
the scripts wait for a file the test writes after the start before their first save.

Crash safety: every seat script saves ch1 and ch2, then waits for a gate file. After those
fourteen saves are in the hub, the hub is killed (SIGKILL) and the gate opened: every seat
saves ch3 and the commercial part into its outbox while the hub is down; then DL-01's agent is
killed (SIGKILL, its two saves undelivered) and started again as if it had died before
recording its confirmed commitment, so it confirms again (harmless: the hub answers that
confirming is over), and the hub is started again. In the end each (seat, part) is in
``submitted_scores`` exactly once and accepted, every expert is complete and each member's
commitment is recorded once.

Scores. E01…E05 give the figures of tests/evaluation/test_end_to_end.py without its two
deviations (E02 gives b02 3.1 4.5 at once; E05 gives b04 1.1 7, not 3); per item E06 gives
the highest and E07 the lowest of those five. The demo method is ``trimmed``: with 7 members,
per item one highest and one lowest score are dropped and the other 5 averaged (sorted 7 →
kept 5 → sum → ÷ 5); technical = Σ items (weights 1), two decimals half up.

    b01 1.1: 7.5 [7.5 8 8 8 8.5] 8.5 = 40 → 8.0     1.2: 3.5 [3.5 4 4 4 4.5] 4.5 = 20 → 4.0
        2.1: 6 [6 6.5 6.5 7 7] 7 = 33 → 6.6         2.2: 5 [5 5.5 5.5 5.5 6] 6 = 27.5 → 5.5
        3.1: 4.5 [4.5 4.5 5 5 5] 5 = 24 → 4.8       3.2: 3 [3 3 3 3 3.5] 3.5 = 15.5 → 3.1
        technical 8.0+4.0+6.6+5.5+4.8+3.1 = 32.0
    b02 1.1: 6.5 [6.5 7 7 7 7.5] 7.5 = 35 → 7.0     1.2: 3.5 [3.5 3.5 3.5 3.5 4] 4 = 18 → 3.6
        2.1: 5.5 [5.5 6 6 6 6.5] 6.5 = 30 → 6.0     2.2: 5 [5 5 5 5 5.5] 5.5 = 25.5 → 5.1
        3.1: 4 [4 4.5 4.5 4.5 5] 5 = 22.5 → 4.5     3.2: 3 [3 3 3 3 3] 3 = 15 → 3.0
        technical 7.0+3.6+6.0+5.1+4.5+3.0 = 29.2
    b03 1.1: 8.5 [8.5 8.5 9 9 9] 9 = 44 → 8.8       1.2: 4.5 [4.5 4.5 4.5 4.5 5] 5 = 23 → 4.6
        2.1: 7 [7 7 7 7 7.5] 7.5 = 35.5 → 7.1       2.2: 6 [6 6 6 6 6.5] 6.5 = 30.5 → 6.1
        3.1: 5 [5 5 5 5.5 5.5] 5.5 = 26 → 5.2       3.2: 3.5 [3.5 3.5 3.5 3.5 4] 4 = 18 → 3.6
        technical 8.8+4.6+7.1+6.1+5.2+3.6 = 35.4
    b04 1.1: 6.5 [6.5 7 7 7 7.5] 7.5 = 35 → 7.0     1.2: 3 [3 3.5 3.5 3.5 3.5] 3.5 = 17 → 3.4
        2.1: 5.5 [5.5 5.5 5.5 6 6] 6 = 28.5 → 5.7   2.2: 4.5 [4.5 5 5 5 5] 5 = 24.5 → 4.9
        3.1: 4 [4 4 4 4 4.5] 4.5 = 20.5 → 4.1       3.2: 2.5 [2.5 2.5 2.5 2.5 3] 3 = 13 → 2.6
        technical 7.0+3.4+5.7+4.9+4.1+2.6 = 27.7
    b05 1.1: 7 [7 7.5 7.5 7.5 8] 8 = 37.5 → 7.5     1.2: 3.5 [3.5 4 4 4 4] 4 = 19.5 → 3.9
        2.1: 6 [6 6.5 6.5 6.5 6.5] 6.5 = 32 → 6.4   2.2: 5 [5 5.5 5.5 5.5 6] 6 = 27.5 → 5.5
        3.1: 4 [4 4.5 4.5 4.5 4.5] 4.5 = 22 → 4.4   3.2: 2.5 [2.5 3 3 3 3] 3 = 14.5 → 2.9
        technical 7.5+3.9+6.4+5.5+4.4+2.9 = 30.6

(Without trimming the answer would differ: b04 3.2 would be (13 + 3 + 2.5) / 7 = 2.642….)
No score is more than 30 % from its item's or chapter's mean, so the review round flags nothing.

Commercial (objective, every expert the same): b01 16+9 = 25, b02 20+8 = 28, b03 12+10 = 22,
b04 8+7 = 15, b05 20+8 = 28. Price (as in test_end_to_end: benchmark 34 560 000.00): b01 23.06,
b02 27.57, b03 20.63, b04 29.48, b05 26.88.

Composite = technical + commercial + price:
    b05 30.60 + 28 + 26.88 = 85.48   (1)
    b02 29.20 + 28 + 27.57 = 84.77   (2)
    b01 32.00 + 25 + 23.06 = 80.06   (3)
    b03 35.40 + 22 + 20.63 = 78.03   (4)
    b04 27.70 + 15 + 29.48 = 72.18   (5)

The committee signs from the seats (``sign: agree`` in each script), with each seat's own
Ed25519 key; the host signs for nobody (its attempt with a seat's key is refused).
"""

from __future__ import annotations

import asyncio
import json
import signal
from pathlib import Path
from typing import Any

import aiohttp
import yaml
from sqlalchemy import func, select

from evaluation_hub.audit.models import AuditEventRow
from evaluation_hub.db.engine import Database
from evaluation_hub.db.seat_terminals import SubmittedScore
from evaluation_hub.evaluation.context import stored_shuffle
from evaluation_hub.evaluation.models import EvaluationPackageRow
from evaluation_hub.sealing import Sealer
from scoring.model import COMMERCIAL_PART
from scoring.shuffle import StaggeredShuffle
from scoring.signing import sign, signature_document
from seat_agent.keys import load_identity
from seat_agent.outbox import ScoreOutbox
from seat_agent.runner import OUTBOX_FILE
from seat_agent.script import PROGRESS_FILE
from tests.e2e.conftest import SEALING_KEY, HubProcess, Processes, SeatProcess, api, until
from tests.evaluation.helpers import DEMO_PACKAGE, demo_package, part_save

SEVEN = ("E01", "E02", "E03", "E04", "E05", "E06", "E07")
SEATS = {
    "E01": "KM-01",
    "E02": "KM-02",
    "E03": "DL-01",
    "E04": "DL-02",
    "E05": "HH-01",
    "E06": "QJ-01",
    "E07": "QJ-02",
}
VENUE_ADMIN = {"KM": "km_admin", "DL": "dl_admin", "HH": "hh_admin", "QJ": "qj_admin"}
# E01…E05 per (bidder, item); E06 gives the highest of the five, E07 the lowest.
TECHNICAL: dict[str, dict[str, str]] = {
    "b01": {"1.1": "8 8.5 8 7.5 8", "1.2": "4 4 4.5 4 3.5", "2.1": "6.5 7 6.5 6 7",
            "2.2": "5.5 5.5 6 5 5.5", "3.1": "5 4.5 5 5 4.5", "3.2": "3 3 3.5 3 3"},
    "b02": {"1.1": "7 7.5 7 7 6.5", "1.2": "3.5 4 3.5 3.5 3.5", "2.1": "6 6 6.5 6 5.5",
            "2.2": "5 5 5 5.5 5", "3.1": "4.5 4.5 4 4.5 5", "3.2": "3 3 3 3 3"},
    "b03": {"1.1": "8.5 9 9 8.5 9", "1.2": "4.5 4.5 4.5 5 4.5", "2.1": "7 7 7.5 7 7",
            "2.2": "6 6.5 6 6 6", "3.1": "5 5.5 5 5 5.5", "3.2": "3.5 3.5 3.5 3.5 4"},
    "b04": {"1.1": "7 6.5 7 7.5 7", "1.2": "3.5 3.5 3 3.5 3.5", "2.1": "5.5 6 5.5 5.5 6",
            "2.2": "5 4.5 5 5 5", "3.1": "4 4 4.5 4 4", "3.2": "2.5 3 2.5 2.5 2.5"},
    "b05": {"1.1": "7.5 7.5 8 7.5 7", "1.2": "4 4 4 3.5 4", "2.1": "6.5 6.5 6 6.5 6.5",
            "2.2": "5.5 5 5.5 5.5 6", "3.1": "4.5 4.5 4.5 4 4.5", "3.2": "3 3 3 3 2.5"},
}  # fmt: skip
COMMERCIAL = {"b01": ("16", "9"), "b02": ("20", "8"), "b03": ("12", "10"), "b04": ("8", "7"),
              "b05": ("20", "8")}  # fmt: skip
PARTS = ("ch1", "ch2", "ch3", COMMERCIAL_PART)


def _points(expert: str) -> dict[tuple[str, str], str]:
    points: dict[tuple[str, str], str] = {}
    for b, items in TECHNICAL.items():
        for item, values in items.items():
            five = values.split()
            if expert == "E06":
                points[b, item] = max(five, key=float)
            elif expert == "E07":
                points[b, item] = min(five, key=float)
            else:
                points[b, item] = five[SEVEN.index(expert)]
    for b, (c1, c2) in COMMERCIAL.items():
        points[b, "c1"], points[b, "c2"] = c1, c2
    return points


async def _shuffle(db: Database, sid: int) -> StaggeredShuffle:
    """The session's shuffle, opened with the hub's sealing key (the test plays every expert)."""
    async with db.read() as s:
        row = (
            await s.execute(
                select(EvaluationPackageRow).where(EvaluationPackageRow.session_id == sid)
            )
        ).scalar_one()
    return stored_shuffle(row, Sealer(SEALING_KEY))


async def _submitted(db: Database) -> list[tuple[str, str, str]]:
    """(seat, part, idempotency key) of every row in the hub's ``submitted_scores``."""
    async with db.read() as s:
        rows = (await s.execute(select(SubmittedScore).order_by(SubmittedScore.id))).scalars()
        return [(r.seat_key, str(r.sheet.get("part")), r.idempotency_key) for r in rows]


async def _pending(seat: SeatProcess) -> int:
    outbox = await ScoreOutbox.open(seat.state_dir / OUTBOX_FILE)
    try:
        return len(await outbox.pending())
    finally:
        await outbox.close()


def _progress(seat: SeatProcess) -> int:
    try:
        done = json.loads((seat.state_dir / PROGRESS_FILE).read_text())["done"]
    except (OSError, ValueError):
        return 0
    return int(done)


async def _login(http: aiohttp.ClientSession, base: str, user: str) -> dict[str, str]:
    body = await api(
        http, "POST", f"{base}/api/auth/token", body={"username": user, "password": "demo-2026"}
    )
    return {"Authorization": f"Bearer {body['token']}"}


async def test_seven_experts_with_seat_agent_processes_and_crashes(
    hub_process: HubProcess, processes: Processes, tmp_path: Path
) -> None:
    db = Database(hub_process.database_url)  # the test reads what the hub process wrote
    await hub_process.start()
    try:
        async with aiohttp.ClientSession() as http:
            await _whole_evaluation(hub_process, processes, db, http, demo_package(), tmp_path)
    finally:
        await db.dispose()


async def _whole_evaluation(
    hub: HubProcess,
    processes: Processes,
    db: Database,
    http: aiohttp.ClientSession,
    package: Any,
    tmp_path: Path,
) -> None:
    ids = hub.ids
    base = hub.base
    host = await _login(http, base, "km_operator")
    admins = {v: await _login(http, base, u) for v, u in VENUE_ADMIN.items()}
    sid = int(ids["session"])

    # --- seat terminals: init, enroll (waiting), approved by the venue admin over HTTP -------
    seats: dict[str, SeatProcess] = {}
    for expert, label in SEATS.items():
        seats[expert] = await processes.init(hub, f"{label[:2]}.{label}")
    enrolling = {
        e: await processes.seat_agent(s, "enroll", "--state-dir", str(s.state_dir))
        for e, s in seats.items()
    }
    for seat in seats.values():
        venue = seat.seat_id[:2]
        url = f"{base}/api/venues/{ids['venues'][venue]}/seat-enrolments?status=pending"

        async def requested(url: str = url, seat_id: str = seat.seat_id) -> bool:
            rows = await api(http, "GET", url, admins[seat_id[:2]])
            return any(r["seat_key"] == seat_id for r in rows)

        await until(requested, f"{seat.seat_id}'s enrolment request")
        (row,) = [
            r for r in await api(http, "GET", url, admins[venue]) if r["seat_key"] == seat.seat_id
        ]
        code = load_identity(seat.state_dir).enrolment_code
        assert row["enrolment_code"] == code
        await api(
            http, "POST", f"{base}/api/seat-enrolments/{row['id']}/approve", admins[venue],
            {"enrolment_code": code},
        )  # fmt: skip
    for expert, proc in enrolling.items():
        assert await asyncio.wait_for(proc.wait(), 120) == 0, seats[expert].log.read_text()
        assert "本终端已获批准" in seats[expert].log.read_text()

    # --- bookings confirmed by the away venues, experts seated, the session started ----------
    bookings = ids["bookings"]
    seat_ids = ids["seats"]
    for booking, venue, labels in (("dali", "DL", ["DL-01", "DL-02"]), ("honghe", "HH", ["HH-01"])):
        await api(
            http, "POST", f"{base}/api/bookings/{bookings[booking]}/confirm", admins[venue],
            {"seat_ids": [seat_ids[label] for label in labels]},
        )  # fmt: skip
    # The host's own seats for its two experts: requested by the host, confirmed by km_admin.
    km_seats = [seat_ids["KM-01"], seat_ids["KM-02"]]
    kunming = await api(
        http, "POST", f"{base}/api/bookings", host,
        {"session_id": sid, "venue_id": ids["venues"]["KM"], "seat_count": 2,
         "seat_ids": km_seats},
        status=201,
    )  # fmt: skip
    await api(
        http, "POST", f"{base}/api/bookings/{kunming['id']}/confirm", admins["KM"],
        {"seat_ids": km_seats},
    )  # fmt: skip
    bookings = {**bookings, "kunming": kunming["id"]}
    booking_of = {"KM": "kunming", "DL": "dali", "HH": "honghe", "QJ": "qujing"}
    for expert, label in SEATS.items():
        await api(
            http, "POST",
            f"{base}/api/bookings/{bookings[booking_of[label[:2]]]}/seats/{seat_ids[label]}/expert",
            host, {"expert_id": ids["experts"][expert]}, status=204,
        )  # fmt: skip
    for action in ("confirm_seats", "open_check_in"):
        await api(http, "POST", f"{base}/api/sessions/{sid}/actions", host, {"action": action})
    evaluation = f"{base}/api/sessions/{sid}/evaluation"
    attached = await api(
        http, "POST", f"{evaluation}/package", host, {"path": str(DEMO_PACKAGE)}, status=201
    )
    for finding in attached["anonymity"]["blocked"]:
        bidder, chapter = finding.split("/")
        await api(
            http, "POST", f"{evaluation}/overrides", host,
            {"bidder_id": bidder, "chapter_id": chapter, "reason": "经核对为引用的行业规范示例"},
            status=201,
        )  # fmt: skip
    shuffle = await _shuffle(db, sid)  # drawn at the attach, before the start
    assert list(shuffle.manifest.expert_ids) == list(SEVEN)

    # --- each seated expert's script: commitment, wait for the start, ch1, ch2, wait for the
    # --- gate, ch3, commercial --------------------------------------------------------------
    started = tmp_path / "started"
    gate = tmp_path / "gate"
    for expert, seat in seats.items():
        sheets = []
        for part in PARTS:
            sheet = part_save(package, shuffle, expert, part, _points(expert))
            del sheet["expert"]  # the booked seat says who sits there
            sheets.append(sheet)
        steps: list[dict[str, Any]] = [
            {"wait_for": str(started)},
            {"sheet": sheets[0]},
            {"pause": 0.1, "sheet": sheets[1]},
            {"wait_for": str(gate)},
            {"sheet": sheets[2]},
            {"pause": 0.1, "sheet": sheets[3]},
        ]
        script = tmp_path / f"{expert}.yaml"
        text = yaml.safe_dump(
            {"session": str(sid), "commitment": "confirm", "sign": "agree", "steps": steps}
        )
        script.write_text(text, "utf-8")
        await processes.run(seat, "--script", str(script))

    # --- the committee confirms from the seats, then the evaluation starts -------------------
    committee = f"{base}/api/sessions/{sid}/committee"

    async def all_confirmed() -> bool:
        view = await api(http, "GET", committee, host)
        return bool(view["confirmed"] == len(SEVEN))

    await until(all_confirmed, "every member's commitment, from the seats' scripts")
    view = await api(http, "GET", committee, host)
    assert view["lawful"] is True
    assert [(m["code"], m["decision"]) for m in view["members"]] == [
        (e, "confirmed") for e in SEVEN
    ]
    await api(
        http, "POST", f"{base}/api/sessions/{sid}/actions", host, {"action": "start_evaluation"}
    )
    started.write_text("started")

    async def first_two_parts_in() -> bool:
        return len(await _submitted(db)) == 2 * len(SEVEN)

    await until(first_two_parts_in, "ch1 and ch2 from every seat in submitted_scores")

    # --- the hub dies; the seats keep saving into their outboxes ------------------------------
    await hub.kill()
    gate.write_text("go")

    async def all_saved() -> bool:
        return all(_progress(s) == len(PARTS) + 2 for s in seats.values())

    await until(all_saved, "every seat's script to finish while the hub is down")
    for seat in seats.values():
        assert await _pending(seat) == 2  # ch3 and commercial wait in the outbox

    # --- DL-01's agent is killed with two undelivered saves and started again, as if it had
    # --- died before recording its commitment: it confirms again, which changes nothing ------
    victim = seats["E03"]
    assert victim.proc is not None
    victim.proc.send_signal(signal.SIGKILL)
    assert await victim.proc.wait() == -signal.SIGKILL
    progress = json.loads((victim.state_dir / PROGRESS_FILE).read_text())
    assert progress["committed"] is True
    progress["committed"] = False
    (victim.state_dir / PROGRESS_FILE).write_text(json.dumps(progress))
    await processes.run(victim, "--script", str(tmp_path / "E03.yaml"))
    await hub.start()  # the hub is back: the outboxes deliver

    async def all_delivered() -> bool:
        return len(await _submitted(db)) >= 4 * len(SEVEN) and all(
            [await _pending(s) == 0 for s in seats.values()]
        )

    await until(all_delivered, "every seat's outbox delivered and its verdict back")

    # --- no score lost, none doubled, every one signed by its seat and accepted ----------------
    submitted = await _submitted(db)
    assert len(submitted) == 4 * len(SEVEN)
    assert len({key for _, _, key in submitted}) == 4 * len(SEVEN)
    async with db.read() as s:
        stored = list((await s.execute(select(SubmittedScore))).scalars())
    assert {(r.accepted, r.verdict_code) for r in stored} == {(True, "accepted")}
    keys = {f"{label[:2]}.{label}": load_identity(seats[e].state_dir) for e, label in SEATS.items()}
    assert all(r.seat_public_key == keys[r.seat_key].ed25519_public.hex() for r in stored)
    assert sorted((seat, part) for seat, part, _ in submitted) == sorted(
        (f"{label[:2]}.{label}", part) for label in SEATS.values() for part in PARTS
    )
    overview = await api(http, "GET", evaluation, host)
    progress = overview["scoring"]["experts"]
    assert [(e["expert"], sorted(e["scored_parts"]), e["complete"]) for e in progress] == [
        (e, sorted(PARTS), True) for e in SEVEN
    ]
    assert overview["scoring"]["refused"] == []
    victim_log = victim.log.read_text()
    assert victim_log.count("seat.agent_started") == 2
    assert "pending_scores=2" in victim_log
    assert victim_log.count("seat.script_committed") == 1
    assert victim_log.count("seat.script_commitment_repeated") == 1
    assert "code=not-forming" in victim_log  # confirming is over once the evaluation started
    async with db.read() as s:
        saves = (
            await s.execute(
                select(func.count())
                .select_from(SubmittedScore)
                .where(SubmittedScore.seat_key == victim.seat_id)
            )
        ).scalar_one()
        saved = (
            await s.execute(
                select(func.count())
                .select_from(AuditEventRow)
                .where(
                    AuditEventRow.subject == f"session:{sid}",
                    AuditEventRow.kind == "evaluation.score_saved",
                )
            )
        ).scalar_one()
        confirmations = (
            await s.execute(
                select(AuditEventRow.actor, AuditEventRow.payload)
                .where(
                    AuditEventRow.subject == f"session:{sid}",
                    AuditEventRow.kind == "committee.commitment_confirmed",
                )
                .order_by(AuditEventRow.seq)
            )
        ).all()
    assert saves == 4
    # Each member confirmed once, at their seat.
    assert sorted((payload["expert"], actor) for actor, payload in confirmations) == [
        (e, f"seat:{label[:2]}.{label}") for e, label in SEATS.items()
    ]
    assert saved == len(SEVEN) * len(PARTS)  # 28 judged saves: each counted once

    # --- review (nothing to flag), seal, reveal: the hand-computed ranking --------------------
    review = await api(http, "POST", f"{evaluation}/review", host, status=201)
    assert review["created"] == []
    sealed = await api(http, "POST", f"{evaluation}/seal", host)
    assert sealed["state"] == "sealed"
    revealed = await api(http, "POST", f"{evaluation}/reveal", host)
    result = revealed["result"]
    assert result["benchmark_price"] == "34560000"
    assert [
        (r["bidder"], r["rank"], r["technical"], r["commercial"], r["price_score"], r["composite"])
        for r in result["ranking"]
    ] == [
        ("b05", 1, "30.6", "28", "26.88", "85.48"),
        ("b02", 2, "29.2", "28", "27.57", "84.77"),
        ("b01", 3, "32", "25", "23.06", "80.06"),
        ("b03", 4, "35.4", "22", "20.63", "78.03"),
        ("b04", 5, "27.7", "15", "29.48", "72.18"),
    ]
    assert result["candidates"] == ["b05", "b02", "b01"]

    # --- the committee signs from the seats; the host signs for nobody ------------------------
    key = load_identity(seats["E01"].state_dir).ed25519
    document = signature_document(str(sid), "E01", True, "", result)
    body = {
        "expert": "E01",
        "decision": "agree",
        "reason": "",
        "public_key": key.public_key().public_bytes_raw().hex(),
        "signature": sign(key, document).hex(),
    }
    await api(http, "POST", f"{evaluation}/signatures", host, body, status=403)

    async def all_signed() -> bool:
        body = await api(http, "GET", f"{base}/api/sessions/{sid}/lifecycle", host)
        return bool(body["state"] == "report_signed")

    await until(all_signed, "every member's signature from their seat")
    lifecycle = await api(http, "GET", f"{base}/api/sessions/{sid}/lifecycle", host)
    assert lifecycle["state"] == "report_signed"
    async with http.get(f"{evaluation}/report", headers=host) as resp:
        assert resp.status == 200
        html = await resp.text()
    assert "<strong>85.48</strong>" in html
    assert "<li>第 1 名中标候选人：b05 大理苍洱路桥工程有限公司</li>" in html
    assert hub.starts == 2
