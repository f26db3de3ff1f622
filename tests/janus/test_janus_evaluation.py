"""The scripted evaluation of ``tests.faults.test_three_hubs`` on ``media_backend = janus``:
three hub processes behind Debian's nginx (``tests.faults.nginx_rig``) on PostgreSQL and Redis,
one real Janus (``tests.support.janus_server``) holding every seat's media, seven seat agent
processes (two of them publishing the test pattern), and the host supervisor's wall in Debian's
headless Chromium, loaded from a process other than the one holding the first publishing seat's
control link: it subscribes to both seats through Janus and decodes their video.

Mid-evaluation the process holding that seat's link is killed (SIGKILL): its seats reconnect
through nginx to the others, the publishing seat publishes to Janus again through the process it
lands on, and the wall, never reloaded, decodes both seats again; Janus's room then holds one
feed per publishing seat, nothing of the killed process's. The evaluation ends
``report_signed`` with every save exactly once and the audit chain verified; each publication
of the two seats has its recording hashed into the chain (Janus records, the hub converts), the
files on disk as hashed.

Talk-back (喊话与工位通知) rides along, before and after the kill: every seat agent receives
push-to-talk audio into a WAV sink (``seat-agent run --talkback``). The supervisor holds 按住讲话
on the wall (Chromium's fake microphone playing a tone) toward one seat whose link is on another
process than the wall's, then toward all seats: the addressed seats' agents decode the tone
(``talkback.heard`` in their logs: voiced frames, not silence), the others hear nothing. A text announcement sent from the wall shows on the expert's
page (the seat agent's own page, in Chromium) of a seat on another process, before the kill, and
to all seats after it on the page of a seat that moved. Each turn and announcement is in the audit
chain and the session's archive bundle: who, when, to whom.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import expect
from sqlalchemy import select

from evaluation_hub.audit.models import AuditEventRow
from evaluation_hub.live.janus_rooms import room_for
from media.janus import videoroom
from media.janus.client import JanusSession
from tests.browser.conftest import FAKE_MEDIA, launched
from tests.browser.test_wall_page import _frames_decoded, _sign_in
from tests.e2e.conftest import SEALING_KEY, TOKEN_SECRET, until
from tests.faults.harness import Evaluation, Seat
from tests.faults.nginx_rig import NGINX, PUBLISHER, NamedHub, holder, hubs_behind_nginx
from tests.faults.test_three_hubs import _segments
from tests.support.janus_server import JanusServer
from tests.support.postgres_server import PostgresServer
from tests.support.redis_server import redis_server
from tests.talkback.sound import tone_wav

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not NGINX.exists(), reason="Debian's nginx-light (scripts/install-system-deps.sh test)"
    ),
]

#: the two seats publishing the test pattern: 昆明 KM-01 (its process is killed) and 大理 DL-01
PUBLISHERS = (PUBLISHER, "E03")
SEGMENT_S = 2.0


@pytest.fixture
async def behind_nginx(
    pg_server: PostgresServer, tmp_path: Path, janus: JanusServer
) -> AsyncIterator[tuple[Evaluation, list[NamedHub]]]:
    env = {
        "EVALHUB_MEDIA_BACKEND": "janus",
        "EVALHUB_JANUS_URLS": janus.url,
        "EVALHUB_JANUS_API_SECRET": janus.api_secret,
        "EVALHUB_JANUS_ADMIN_KEY": janus.admin_key,
        "EVALHUB_RECORDING_SEGMENT_SECONDS": str(SEGMENT_S),
    }
    with redis_server() as redis:
        async with hubs_behind_nginx(
            pg_server, redis, tmp_path, env, publish=PUBLISHERS, talkback=True
        ) as rig:
            yield rig


@pytest.fixture
async def talking_browser(chromium_path: str, tmp_path: Path) -> AsyncIterator[Any]:
    """Chromium whose fake microphone, granted without asking, plays a tone."""
    tone = tone_wav(tmp_path / "tone.wav")
    async with launched(
        chromium_path, *FAKE_MEDIA, f"--use-file-for-fake-audio-capture={tone}"
    ) as browser:
        yield browser


async def _publications(run: Evaluation, seat_key: str) -> list[datetime]:
    """When each publication of the seat to Janus began (the hub's audit events, in order)."""
    async with run.db.read() as s:
        found = await s.execute(
            select(AuditEventRow.at)
            .where(AuditEventRow.kind == "live.publisher_connected")
            .where(AuditEventRow.subject == f"seat:{seat_key}")
            .order_by(AuditEventRow.seq)
        )
        return [at if at.tzinfo else at.replace(tzinfo=UTC) for at in found.scalars()]


async def _decoding(page: Any, seat_id: int, frames: int = 10) -> str:
    """Wait until the tile of ``seat_id`` has decoded ``frames`` more frames on one viewer
    (counted from now on the viewer it has, or from its first on a new one); that viewer's id."""
    viewer: str | None = None
    start = 0
    for _ in range(600):
        current = await page.locator(f".tile[data-seat-id='{seat_id}']").get_attribute(
            "data-viewer-id"
        )
        decoded = await _frames_decoded(page, seat_id)
        if current != viewer:
            viewer, start = current, (decoded if viewer is None and current else 0)
        if current is not None and decoded >= start + frames:
            return current
        await page.wait_for_timeout(100)
    raise AssertionError(f"the wall did not decode seat #{seat_id} (viewer {viewer})")


def _listened(hubs: list[NamedHub], seat_key: str) -> int:
    """How often ``seat_key``'s talk-back connection was answered, on every process."""
    return sum(
        1
        for hub in hubs
        for line in hub.logs().splitlines()
        if "talkback.seat_listening" in line and f"seat_key={seat_key}" in line
    )


def _expert_page_url(run: Evaluation, expert: str) -> str:
    """The address of the expert's page the seat agent printed (``--page-port 0``)."""
    found = re.search(
        r"专家页面（请在本机浏览器中打开，仅本次启动有效）：(\S+)",
        run.seats[expert].log.read_text(),
    )
    assert found, run.seats[expert].log.read_text()[-2000:]
    return str(found.group(1))


Window = tuple[datetime, datetime]


def _heard(seat: Seat) -> tuple[int, list[tuple[int, int]]]:
    """From the seat agent's log: how many stretches of talk-back it began to hear, and each
    one it heard to the end (decoded frames, of which voiced: not silence)."""
    text = seat.log.read_text(errors="replace")
    ended = [
        (int(frames), int(voiced))
        for frames, voiced in re.findall(r"talkback\.heard .*?frames=(\d+) .*?voiced=(\d+)", text)
    ]
    return text.count("talkback.hearing"), ended


async def _talk(
    page: Any, run: Evaluation, seat_id: int | None
) -> tuple[list[str], dict[str, tuple[int, int] | None], Window]:
    """Hold 按住讲话 on the wall toward ``seat_id`` (None: 全部工位) until every seat the wall
    says it reaches hears it, a little more, then release: those seats, what each seat's
    agent heard of it (frames, voiced; None: nothing), and when the turn was held."""
    target = page.get_by_test_id("talkback-target")
    await target.select_option("" if seat_id is None else str(seat_id))
    seats = {seat.seat_id: seat for seat in run.seats.values()}
    before = {key: _heard(seat) for key, seat in seats.items()}
    began = datetime.now(UTC)
    talk, message = page.locator("#talkback-talk"), page.get_by_test_id("talkback-message")
    await talk.dispatch_event("pointerdown")
    speaking = re.compile("^正在向 (.+) 喊话，松开按钮结束$")
    await expect(message).to_have_text(speaking, timeout=20_000)
    found = speaking.match(await message.inner_text())
    assert found is not None
    listening = found.group(1).split("、")

    async def hearing() -> bool:
        return all(_heard(seats[key])[0] > before[key][0] for key in listening)

    await until(hearing, f"{listening} hearing the supervisor", tries=400)
    await page.wait_for_timeout(300)
    await talk.dispatch_event("pointerup")
    await expect(message).to_have_text(re.compile(r"^喊话结束（[\d.]+ 秒）$"))
    ended = datetime.now(UTC)

    async def heard_out() -> bool:
        return all(len(_heard(seats[key])[1]) > len(before[key][1]) for key in listening)

    await until(heard_out, f"{listening} hearing the turn to its end", tries=400)
    heard: dict[str, tuple[int, int] | None] = {}
    for key, seat in seats.items():
        began_now, stretches = _heard(seat)
        new = stretches[len(before[key][1]) :]
        assert began_now - before[key][0] == len(new), (key, began_now, new)
        heard[key] = (sum(f for f, _ in new), sum(v for _, v in new)) if new else None
    return listening, heard, (began, ended)


async def _announce(page: Any, seat_id: int | None, text: str) -> tuple[str, Window]:
    """Send ``text`` from the wall's panel; the wall's confirmation, and when."""
    began = datetime.now(UTC)
    await page.get_by_test_id("talkback-target").select_option(
        "" if seat_id is None else str(seat_id)
    )
    await page.get_by_test_id("talkback-text").fill(text)
    await page.click("#talkback-send")
    message = page.get_by_test_id("talkback-message")
    await expect(message).to_have_text(re.compile("^已发送通知"))
    return await message.inner_text(), (began, datetime.now(UTC))


async def _shown(expert: Any, text: str) -> None:
    """The expert's page shows ``text`` as the one announcement; the expert dismisses it."""
    notice = expert.get_by_test_id("announcement")
    await expect(notice).to_have_count(1, timeout=15_000)
    await expect(notice.get_by_test_id("announcement-text")).to_have_text(text)
    assert (await notice.get_by_test_id("announcement-from").inner_text()).startswith(
        "主场监督人员 · "
    )
    await notice.get_by_role("button", name="知道了").click()
    await expect(notice).to_have_count(0)


async def test_the_evaluation_on_janus_with_the_wall_in_chromium(
    talking_browser: Any, janus: JanusServer, behind_nginx: tuple[Evaluation, list[NamedHub]]
) -> None:
    browser = talking_browser
    run, hubs = behind_nginx
    await run.start()
    keys = {expert: run.seats[expert].seat_id for expert in PUBLISHERS}
    seat_ids = {expert: int(run.ids["seats"][key.split(".", 1)[1]]) for expert, key in keys.items()}
    victim = holder(hubs, keys[PUBLISHER])
    # Every request of the page goes to this process: it holds the wall's subscriptions.
    wall_hub = next(hub for hub in hubs if hub is not victim)

    # The wall, from a process the killed seat's link is not on, plays both seats via Janus.
    page = await browser.new_page()
    await _sign_in(page, wall_hub, "km_supervisor")
    assert await page.evaluate("document.querySelector('.tile') !== null")
    before = {expert: await _decoding(page, seat_ids[expert]) for expert in PUBLISHERS}
    run.mark("wall playing")

    # Recording: a segment of the seat hashed into the chain before the kill.
    async def recorded() -> bool:
        return bool(await _segments(run, keys[PUBLISHER]))

    await until(recorded, "a recording segment of the publishing seat in the audit chain")

    # Talk-back before the kill, toward the seat on the process about to die (not the wall's).
    every = sorted(seat.seat_id for seat in run.seats.values())
    label_ids = {
        seat.seat_id: int(run.ids["seats"][seat.seat_id.split(".", 1)[1]])
        for seat in run.seats.values()
    }
    expert = await browser.new_page()
    await expert.goto(_expert_page_url(run, PUBLISHER))
    await expert.get_by_text("已连接主场").wait_for()
    turns: list[tuple[str, list[str], Window]] = []
    said: list[tuple[str, Window]] = []

    async def talk_to(seat_key: str | None) -> None:
        listening, heard, window = await _talk(
            page, run, None if seat_key is None else label_ids[seat_key]
        )
        to = every if seat_key is None else [seat_key]
        assert sorted(listening) == to, (seat_key, listening)
        # The addressed seats decoded the tone (a tenth of a second at least, not silence); any
        # other seat heard nothing at all.
        assert all((heard[key] or (0, 0))[1] >= 5 for key in to), heard
        assert all(heard[key] is None for key in every if key not in to), heard
        turns.append(("all" if seat_key is None else seat_key, listening, window))

    await talk_to(keys[PUBLISHER])
    await talk_to(None)
    confirmed, window = await _announce(page, seat_ids[PUBLISHER], "请将摄像头对准本人，谢谢配合。")
    assert confirmed == f"已发送通知（{keys[PUBLISHER]}）"
    said.append((keys[PUBLISHER], window))
    await _shown(expert, "请将摄像头对准本人，谢谢配合。")
    run.mark("talk-back before the kill")

    orphans = [seat.seat_id for seat in run.seats.values() if holder(hubs, seat.seat_id) is victim]
    survivors = [hub for hub in hubs if hub is not victim]
    links = {key: sum(hub.connected(key) for hub in survivors) for key in orphans}
    listened = {key: _listened(survivors, key) for key in orphans}
    killed = time.monotonic()
    await victim.kill()
    killed_at = datetime.now(UTC)

    async def reconnected() -> bool:
        return all(sum(hub.connected(key) for hub in survivors) > links[key] for key in orphans)

    await until(reconnected, "the killed process's seats reconnecting through nginx")
    # The wall, never reloaded, decodes both seats again (the moved one on a new subscription).
    after = {expert: await _decoding(page, seat_ids[expert]) for expert in PUBLISHERS}
    assert after[PUBLISHER] != before[PUBLISHER], (before, after)
    # Renewed because the seat published anew (Janus's connection itself never failed).
    assert await page.evaluate("window.wall.resubscribed") >= 1
    picture_back = time.monotonic() - killed
    run.mark("wall playing again")

    # Talk-back after the kill: each moved seat listens again on the process it landed on.
    async def listening_again() -> bool:
        return all(_listened(survivors, key) > listened[key] for key in orphans)

    await until(listening_again, "the moved seats' talk-back connections answered again")
    other = next(hub for hub in survivors if hub is not wall_hub)
    there = [key for key in every if holder(hubs, key) is other]
    assert there, f"no seat's link is on {other.name}"
    await talk_to(there[0])
    await talk_to(None)
    confirmed, window = await _announce(page, None, "评审继续进行，请各位专家注意保持镜头画面。")
    assert confirmed == "已发送通知（全部工位）"
    said.append(("all", window))
    await _shown(expert, "评审继续进行，请各位专家注意保持镜头画面。")  # its seat moved
    run.mark("talk-back after the kill")
    run.open_gate()  # the rest of the evaluation through the two left, meanwhile
    # Janus's room holds one feed per publishing seat: nothing of the killed process's is left.
    watcher = await JanusSession.create(janus.url, api_secret=janus.api_secret)
    try:
        handle = await watcher.attach()
        present = await videoroom.participants(handle, room_for(run.sid, TOKEN_SECRET.encode()))
        assert sorted(p.display for p in present if p.publishing) == sorted(keys.values())
    finally:
        await watcher.close()

    async def resumed() -> bool:
        return any(seg.started_at > killed_at for seg in await _segments(run, keys[PUBLISHER]))

    await until(resumed, "a recording segment of the seat begun after the kill")
    await run.finish()  # report_signed, each save exactly once, ``audit verify``
    assert victim.proc is not None and victim.proc.returncode == -signal.SIGKILL

    recordings = run.root / "recordings"
    for expert in PUBLISHERS:
        segments = await _segments(run, keys[expert])
        for seg in segments:  # each hashed segment is on disk as hashed
            assert hashlib.sha256((recordings / seg.file).read_bytes()).hexdigest() == seg.sha256
        # Each publication of the seat (through whichever process) recorded: a segment of it.
        began = await _publications(run, keys[expert])
        for start, end in zip(began, [*began[1:], datetime.max.replace(tzinfo=UTC)], strict=True):
            assert any(start <= seg.started_at < end for seg in segments), (began, segments)
    assert len(await _publications(run, keys[PUBLISHER])) >= 2
    await _talkback_recorded(run, turns, said)
    print(
        f"\ntalk-back turns to {[to for to, _, _ in turns]}; "
        f"the killed seat's picture decoded again {picture_back:.2f} s after the kill "
        f"(wall on {wall_hub.name}, seat on {victim.name}); phases: {run.phases()}"
    )


async def _talkback_recorded(
    run: Evaluation, turns: list[tuple[str, list[str], Window]], said: list[tuple[str, Window]]
) -> None:
    """Every turn and announcement in the audit chain and in the session's archive bundle, once,
    in order: who (the wall's supervisor), when (while the test held or sent it), to whom."""
    expected = [
        *[("voice", to, window) for to, _, window in turns[:2]],
        ("text", *said[0]),
        *[("voice", to, window) for to, _, window in turns[2:]],
        ("text", *said[1]),
    ]
    async with run.db.read() as s:
        found = await s.execute(
            select(AuditEventRow)
            .where(AuditEventRow.kind.like("talkback.%"))
            .where(AuditEventRow.subject == f"session:{run.sid}")
            .order_by(AuditEventRow.seq)
        )
        events = list(found.scalars())
    starts = [e for e in events if e.kind != "talkback.voice_ended"]
    assert [(e.kind, e.actor, e.payload["to"]) for e in starts] == [
        (
            "talkback.voice_started" if kind == "voice" else "talkback.announcement",
            "km_supervisor",
            to,
        )
        for kind, to, _ in expected
    ]
    for event, (_, _, (began, ended)) in zip(starts, expected, strict=True):
        at = event.at if event.at.tzinfo else event.at.replace(tzinfo=UTC)
        assert began <= at <= ended, (event.kind, at, began, ended)
    # Each turn ended once, having reached the seats the wall said it spoke to.
    ends = [e for e in events if e.kind == "talkback.voice_ended"]
    assert [sorted(e.payload["reached"]) for e in ends] == [
        sorted(listening) for _, listening, _ in turns
    ]

    # The operator's command writes the session's bundle.
    bundle = run.root / "archive"
    made = await asyncio.to_thread(
        subprocess.run,
        [
            sys.executable, "-m", "evaluation_hub.cli", "archive", str(run.sid),
            "--database-url", run.hub.database_url, "--hub-key", str(run.root / "hub-key.pem"),
            "--out", str(bundle),
        ],
        # The hubs' sealing key (the evaluation section re-derives the report with it), given
        # as the hubs were given it: never whatever key file the working directory holds.
        env={**os.environ, "EVALHUB_SEALING_KEY": base64.urlsafe_b64encode(SEALING_KEY).decode()},
        cwd=run.root, capture_output=True, text=True, check=False, timeout=60,
    )  # fmt: skip
    assert made.returncode == 0, made.stdout + made.stderr
    archived = json.loads((bundle / "talkback" / "announcements.json").read_text("utf-8"))
    assert [(a["kind"], a["to"], a["sender"], a["sender_role"]) for a in archived] == [
        (kind, to, "km_supervisor", "host_supervisor") for kind, to, _ in expected
    ]
    for entry, (kind, _, (began, ended)) in zip(archived, expected, strict=True):
        sent = datetime.fromisoformat(entry["sent_at"])
        assert began <= (sent if sent.tzinfo else sent.replace(tzinfo=UTC)) <= ended, entry
        assert (entry["duration_s"] is not None) == (kind == "voice"), entry
