"""Helpers for the evaluation engine's tests: a small session through the API, its start once
the committee confirmed, the shuffle as only the hub knows it (tests play every expert, so they
may look), sheets per part, and seat terminals enrolled with their own keys whose saves are
signed as a seat agent signs them."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestClient
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import select

from evaluation_hub.api.keys import CLOCK, DB, SEALER, SERVICES
from evaluation_hub.bids.package_io import read_package
from evaluation_hub.db.engine import Database
from evaluation_hub.db.seat_terminals import SeatEnrolment
from evaluation_hub.evaluation.context import stored_shuffle
from evaluation_hub.evaluation.models import EvaluationPackageRow
from evaluation_hub.seats.scores import ScoreCommit, commit_score
from scoring.model import COMMERCIAL_PART, BidPackage
from scoring.shuffle import StaggeredShuffle
from scoring.signing import save_document, sign
from seat_protocol.auth import public_key_bytes
from seat_protocol.hub_side import score_digest
from tests.hub.helpers import confirm_committee

Client = TestClient[Any, Any]

DEMO_PACKAGE = Path(__file__).resolve().parents[2] / "configs" / "demo" / "bid_package"
FIVE = ("E01", "E02", "E03", "E04", "E05")
#: the written reason every host entry (代录) in these tests gives
PROXY_REASON = "专家所在工位终端故障，经监督人员同意由主场代录"


def demo_package() -> BidPackage:
    return read_package(DEMO_PACKAGE)


def identities(package: BidPackage) -> list[str]:
    """What must never appear in an answer before sealing: names, aliases, codes, staff."""
    marks: list[str] = []
    for b in package.bidders:
        marks.extend([b.name, b.credit_code, *b.aliases, *b.key_staff])
    return marks


async def new_session(
    client: Client, host: dict[str, str], seeded: dict[str, Any], experts: tuple[str, ...] = FIVE
) -> int:
    resp = await client.post(
        "/api/sessions",
        json={
            "project_code": "YNGGZY-PE-2025-JS-0417",
            "project_name": "普洱市思茅区南屏至倚象公路提升改造工程",
            "section": "施工第一标段",
            "starts_at": "2026-12-01T09:00:00+08:00",
            "ends_at": "2026-12-01T17:30:00+08:00",
            "committee_size": len(experts) or 5,
        },
        headers=host,
    )
    assert resp.status == 201, await resp.text()
    sid = int((await resp.json())["id"])
    for n, code in enumerate(experts):
        resp = await client.post(
            f"/api/sessions/{sid}/experts",
            json={"expert_id": seeded["experts"][code], "placement": "host" if n < 2 else "away"},
            headers=host,
        )
        assert resp.status == 201, await resp.text()
    return sid


async def act(client: Client, host: dict[str, str], sid: int, *actions: str) -> None:
    for action in actions:
        resp = await client.post(
            f"/api/sessions/{sid}/actions", json={"action": action}, headers=host
        )
        assert resp.status == 200, await resp.text()


async def start(client: Client, host: dict[str, str], sid: int) -> None:
    """``start_evaluation`` from check-in: every member still pending confirms the integrity
    commitment first (``confirm_committee``), since the hub starts only a lawful committee."""
    assert client.app is not None
    await confirm_committee(client.app[DB], sid, client.app[CLOCK]())
    await act(client, host, sid, "start_evaluation")


async def attach(client: Client, host: dict[str, str], sid: int, path: Path = DEMO_PACKAGE) -> Any:
    return await client.post(
        f"/api/sessions/{sid}/evaluation/package", json={"path": str(path)}, headers=host
    )


async def hub_shuffle(client: Client, database: Database, sid: int) -> StaggeredShuffle:
    """The session's shuffle, opened with the hub's sealing key (what only the hub can do)."""
    async with database.read() as s:
        row = (
            await s.execute(
                select(EvaluationPackageRow).where(EvaluationPackageRow.session_id == sid)
            )
        ).scalar_one()
    assert client.app is not None
    return stored_shuffle(row, client.app[SEALER])


def part_save(
    package: BidPackage,
    shuffle: StaggeredShuffle,
    expert: str,
    part: str,
    points: Mapping[tuple[str, str], str],
    comment: str = "见评审意见",
) -> dict[str, Any]:
    """One expert's save of one part; ``points`` maps (bidder, item) → points."""
    entries = []
    if part == COMMERCIAL_PART:
        for b in package.bidder_ids:
            for i in package.commercial_items:
                entries.append(
                    {"subject": b, "item": i.id, "points": points[b, i.id], "comment": comment}
                )
    else:
        chapter = package.chapter(part)
        for label in shuffle.view(expert).chapters[package.chapter_ids.index(part)].labels:
            b = shuffle.bidder_for(expert, part, label)
            for i in chapter.items:
                entries.append(
                    {"subject": label, "item": i.id, "points": points[b, i.id], "comment": comment}
                )
    return {"expert": expert, "part": part, "entries": entries}


def total(values: list[str]) -> Decimal:
    return sum((Decimal(v) for v in values), Decimal(0))


def proxy(save: dict[str, Any], reason: str = PROXY_REASON) -> dict[str, Any]:
    """A save as the host enters it for an expert (代录): with the written reason."""
    return save | {"reason": reason}


def seat_private_key(seat_key: str) -> Ed25519PrivateKey:
    """A seat terminal's own key, fixed per seat so tests do not depend on randomness."""
    return Ed25519PrivateKey.from_private_bytes(hashlib.sha256(seat_key.encode()).digest())


async def enrol_seat(
    database: Database, seeded: dict[str, Any], seat_key: str, now: Any
) -> Ed25519PrivateKey:
    """Record ``seat_key``'s terminal as approved by its venue admin; returns its key."""
    key = seat_private_key(seat_key)
    async with database.write() as s:
        s.add(
            SeatEnrolment(
                seat_key=seat_key,
                seat_id=seeded["seats"][seat_key.split(".", 1)[1]],
                ed25519_public_key=public_key_bytes(key),
                x25519_public_key=bytes(32),
                enrolment_code="AAAA-AAAA",
                status="approved",
                requested_at=now,
            )
        )
    return key


async def seat_save(
    client: Client,
    seat_key: str,
    idempotency_key: str,
    session_ref: str,
    sheet: dict[str, Any],
    *,
    key: Ed25519PrivateKey | None = None,
    signature: str | None = None,
) -> ScoreCommit:
    """A save as the seat link hands it to the intake: signed by the seat's key (or ``key``),
    unless ``signature`` is given."""
    assert client.app is not None
    signer = key or seat_private_key(seat_key)
    if signature is None:
        signature = sign(signer, save_document(session_ref, idempotency_key, sheet)).hex()
    return await commit_score(
        client.app[SERVICES],
        seat_key=seat_key,
        idempotency_key=idempotency_key,
        session_ref=session_ref,
        sheet=sheet,
        digest=score_digest(session_ref, sheet),
        signature=signature,
        now=client.app[CLOCK](),
    )


async def check_in_at_seat(
    client: Client, seeded: dict[str, Any], clock: Any, sid: int, seat_label: str, expert: str
) -> dict[str, str]:
    """Check ``expert`` in at the seat ``seat_label`` with their one-time PIN, as the seat
    does, inside the booked window (the clock moves there); returns fresh host headers. The
    session must be open for check-in and the expert seated there."""
    from evaluation_hub.checkin import store as checkin_store
    from tests.hub.helpers import login

    host = await login(client, "km_operator")
    resp = await client.post(f"/api/sessions/{sid}/checkin-pins", headers=host)
    assert resp.status == 201, await resp.text()
    pin = next(p["pin"] for p in (await resp.json())["pins"] if p["expert_code"] == expert)
    clock.advance(hours=23, minutes=30)  # check-in opens an hour before 2026-12-01 09:00+08
    assert client.app is not None
    await checkin_store.check_in(
        client.app[SERVICES],
        seat_id=seeded["seats"][seat_label],
        expert_code=expert,
        pin=pin,
        now=clock(),
    )
    return await login(client, "km_operator")  # the earlier token expired meanwhile


async def seat_members(
    client: Client,
    seeded: dict[str, Any],
    database: Database,
    sid: int,
    seats: Mapping[str, str],
    now: Any,
) -> dict[str, str]:
    """Book, confirm and assign a seat to each member (``seats``: expert → seat label, e.g.
    ``KM-01``) through the API, and enrol each seat's terminal with its own key (approved by
    its venue admin). Returns expert → seat key."""
    from tests.hub.helpers import login

    host = await login(client, "km_operator")
    by_venue: dict[str, list[tuple[str, str]]] = {}
    for expert, label in seats.items():
        by_venue.setdefault(label.split("-", 1)[0], []).append((expert, label))
    keys: dict[str, str] = {}
    for venue, placed in by_venue.items():
        seat_ids = [seeded["seats"][label] for _, label in placed]
        resp = await client.post(
            "/api/bookings",
            json={
                "session_id": sid,
                "venue_id": seeded["venues"][venue],
                "seat_count": len(placed),
                "seat_ids": seat_ids,
            },
            headers=host,
        )
        assert resp.status == 201, await resp.text()
        booking = (await resp.json())["id"]
        admin = await login(client, f"{venue.lower()}_admin")
        resp = await client.post(
            f"/api/bookings/{booking}/confirm", json={"seat_ids": seat_ids}, headers=admin
        )
        assert resp.status == 200, await resp.text()
        for expert, label in placed:
            resp = await client.post(
                f"/api/bookings/{booking}/seats/{seeded['seats'][label]}/expert",
                json={"expert_id": seeded["experts"][expert]},
                headers=host,
            )
            assert resp.status == 204, await resp.text()
            keys[expert] = f"{venue}.{label}"
            await enrol_seat(database, seeded, keys[expert], now)
    return keys


#: the code-like token planted in b01's chapter 3 (and so in b03's copy of it)
PLANTED_TOKEN = "QX7-19B"


def near_identical_package(dest: Path) -> Path:
    """The demo package with b03's bid made from b01's: b01's chapter 2 as b03's chapter 1 and
    b01's chapter 1 as b03's chapter 2 (alike under different chapter ids), b01's chapter 3 as
    b03's chapter 3 (the same id), a code-like token in that chapter and at the end of b03's
    chapter 1 (a place outside the chapters already alike), and prices ending alike
    (36,961,205.37 and 35,400,005.37: 0537 beyond rounding)."""
    import shutil

    out = dest / "near_identical"
    shutil.copytree(DEMO_PACKAGE, out)
    chapters = out / "chapters"
    ch3 = (chapters / "b01" / "ch3.md").read_text(encoding="utf-8")
    ch3 += f"\n试验记录编号 {PLANTED_TOKEN}，见附表。\n"
    (chapters / "b01" / "ch3.md").write_text(ch3, encoding="utf-8")
    for source, target in (("ch2", "ch1"), ("ch1", "ch2"), ("ch3", "ch3")):
        text = (chapters / "b01" / f"{source}.md").read_text(encoding="utf-8")
        if target == "ch1":  # the token also where b03's text is not b01's chapter 3
            text += f"\n附：试验记录 {PLANTED_TOKEN}。\n"
        (chapters / "b03" / f"{target}.md").write_text(text, encoding="utf-8")
    prices = (out / "prices.yaml").read_text(encoding="utf-8")
    prices = prices.replace('"36960000.00"', '"36961205.37"').replace(
        '"37800000.00"', '"35400005.37"'
    )
    (out / "prices.yaml").write_text(prices, encoding="utf-8")
    return out
