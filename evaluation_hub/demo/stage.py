"""Setting the stage for the scripted evaluation (``--script``): everything done before the
evaluation day, through the use cases of whoever does it, and each seat's script.

The 大理 and 红河 admins confirm their bookings, the host operator seats the committee's away
members at the booked seats, confirms the seats and opens check-in, attaches the demo bid
package and releases b03/ch2 (whose identifying marks the demo documents) with a reason, and
records the two host experts' integrity commitment, given at the host. With a played expert
(``--play E0x``) the host issues the check-in PINs and only that expert's is kept.

Each away seat but the played one gets a script (``seat_agent.script``): confirm the
commitment, wait for ``STARTED_FILE`` (created once the evaluation started and the host
experts' saves are in), save every part every few seconds from ``configs/demo/scores.yaml``
under that expert's own labels, answer the review requests as an expert would (``review``:
keep an explainable deviation with ``SCRIPT_KEEP_REASON``, re-score an objective item to the
value the committee settles on), and sign the report when it comes.
"""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import select

from evaluation_hub.bids.package_io import read_package
from evaluation_hub.booking import answers
from evaluation_hub.checkin import store as checkin_store
from evaluation_hub.demo.data import (
    DEMO_PACKAGE,
    DEMO_SCORES,
    DEMO_SEATS,
    load_directory,
    played_seat,
)
from evaluation_hub.demo.seed import host_operator, venue_admin
from evaluation_hub.evaluation.context import stored_shuffle
from evaluation_hub.evaluation.models import EvaluationPackageRow
from evaluation_hub.evaluation.package import attach_package, record_override, start_evaluation_in
from evaluation_hub.principal import Principal
from evaluation_hub.services import Services
from evaluation_hub.sessions import seat_requests
from evaluation_hub.sessions import store as session_store
from scoring.model import COMMERCIAL_PART, BidPackage
from scoring.shuffle import StaggeredShuffle

__all__ = ["SCRIPT_KEEP_REASON", "STARTED_FILE", "Stage", "stage_evaluation"]

#: Created beside the seats' scripts once the evaluation started: their first step waits for it.
STARTED_FILE = "evaluation-started"
#: The written reason a scripted expert keeps an explainable deviation with.
SCRIPT_KEEP_REASON = "演示脚本：按评分标准评定，维持原评分"
# Seconds between a script's saves (the person watching sees them come in one by one).
SAVE_PAUSE_S = 3


@dataclasses.dataclass(frozen=True)
class Stage:
    """What ``stage_evaluation`` prepared for the driver (``evaluation_hub.demo.script``)."""

    session_id: int
    #: the host site's operator, as whom the host acts
    host: Principal
    #: each seat's script file, by seat id
    scripts: dict[str, Path]
    #: created once the evaluation started; the scripts wait for it before their first save
    started: Path
    #: the expert a person plays on the seat's page (``--play E0x``), if any
    played: str | None = None
    #: the one-time check-in PIN issued for ``played``
    played_pin: str | None = None


def _sheet(
    package: BidPackage,
    shuffle: StaggeredShuffle,
    expert: str,
    part: str,
    points: dict[tuple[str, str], str],
) -> dict[str, Any]:
    """One expert's save of one part (technical chapters under that expert's labels)."""
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


def _points(scores: dict[str, Any], expert: str) -> dict[tuple[str, str], str]:
    """``expert``'s points by (bidder, item) as ``configs/demo/scores.yaml`` gives them."""
    n = scores["experts"].index(expert)
    found = {
        (b, item): values.split()[n]
        for b, items in scores["technical"].items()
        for item, values in items.items()
    }
    for b, items in scores["commercial"].items():
        found |= {(b, item): value for item, value in items.items()}
    return found


async def stage_evaluation(
    hub: Services,
    ids: dict[str, Any],
    scripts_dir: Path,
    now: datetime,
    *,
    play: str | None = None,
) -> Stage:
    """Take the seeded session to check-in with the package attached and the host experts'
    commitment given, and write each scripted seat's script. ``play``: the away expert a
    person plays (that seat gets no script; their PIN is in the result)."""
    data = load_directory()
    sid = ids["session"]
    seats = ids["seats"]
    bookings = ids["bookings"]
    host = host_operator(data, ids)
    if play is not None:
        played_seat(play)
    for key, code, labels in (("dali", "DL", ["DL-01", "DL-02"]), ("honghe", "HH", ["HH-01"])):
        await answers.confirm_booking(
            hub,
            venue_admin(data, ids, code),
            bookings[key],
            seat_ids=[seats[x] for x in labels],
            now=now,
        )
    # The host experts sit at the host's own seats, booked and confirmed like away ones.
    km_seats = [seats["KM-01"], seats["KM-02"]]
    kunming = await seat_requests.request_booking(
        hub,
        host,
        session_id=sid,
        venue_id=ids["venues"]["KM"],
        seat_count=len(km_seats),
        seat_ids=km_seats,
        now=now,
    )
    await answers.confirm_booking(
        hub, venue_admin(data, ids, "KM"), kunming.id, seat_ids=km_seats, now=now
    )
    bookings = {**bookings, "kunming": kunming.id}
    booking_of = {"KM": "kunming", "DL": "dali", "HH": "honghe", "QJ": "qujing"}
    for seat_id, expert in DEMO_SEATS.items():
        code, label = seat_id.split(".")
        await checkin_store.assign_expert(
            hub, host, bookings[booking_of[code]], seats[label], ids["experts"][expert], now=now
        )
    for action in ("confirm_seats", "open_check_in"):
        await session_store.act(
            hub, host, sid, action, reason=None, now=now, start=start_evaluation_in
        )
    played_pin = None
    if play is not None:
        # Every seated expert gets a PIN (the scripts do not check in); only this one is kept.
        issued = await checkin_store.issue_pins(hub, host, sid, now=now)
        played_pin = next(p.pin for p in issued if p.expert_code == play)
    await attach_package(hub, host, sid, DEMO_PACKAGE, now=now)
    await record_override(
        hub, host, sid, "b03", "ch2", "演示标书：经核对为引用的行业规范示例", now=now
    )

    async with hub.db.read() as s:
        row = (
            await s.execute(
                select(EvaluationPackageRow).where(EvaluationPackageRow.session_id == sid)
            )
        ).scalar_one()
    shuffle = stored_shuffle(row, hub.sealer)
    package = read_package(DEMO_PACKAGE)
    scores = yaml.safe_load(DEMO_SCORES.read_text(encoding="utf-8"))
    parts = (*package.chapter_ids, COMMERCIAL_PART)
    await asyncio.to_thread(scripts_dir.mkdir, parents=True, exist_ok=True)
    started = scripts_dir / STARTED_FILE
    await asyncio.to_thread(started.unlink, missing_ok=True)
    files = {}
    for seat_id, expert in DEMO_SEATS.items():
        if expert == play:
            continue
        steps: list[dict[str, Any]] = [{"wait_for": STARTED_FILE}]
        steps += [
            {
                "pause": SAVE_PAUSE_S,
                "sheet": _sheet(package, shuffle, expert, part, _points(scores, expert)),
            }
            for part in parts
        ]
        path = scripts_dir / f"{seat_id}.script.yaml"
        script = {
            "session": str(sid),
            "commitment": "confirm",
            "review": {"keep_reason": SCRIPT_KEEP_REASON},
            "sign": "agree",
            "steps": steps,
        }
        text = yaml.safe_dump(script, allow_unicode=True)
        await asyncio.to_thread(path.write_text, text, encoding="utf-8")
        files[seat_id] = path
    return Stage(sid, host, files, started, play, played_pin)
