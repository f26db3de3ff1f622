"""Push-to-talk turns (语音喊话): the use cases behind the hold-to-speak button.

:func:`start_voice` checks the caller first (``talkback.recipients.address``, the rule of
announcements), answers the speaker's offer (``talkback.voice.VoiceHub``: 409 when none of the
seats addressed has its talk-back connection up, on any hub process: ``talkback.voice_relay``),
then stores the turn with the session and
appends ``talkback.voice_started`` (who, when, to whom) in one unit of work. :func:`end_voice`
(the speaker only, wherever the request lands) closes the turn and records its end and duration
(``talkback.voice_ended``). A turn whose audit cannot be written is closed at once.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime

from evaluation_hub.audit.store import append_event
from evaluation_hub.principal import Principal
from evaluation_hub.services import Services
from evaluation_hub.talkback.models import TalkbackRow
from evaluation_hub.talkback.recipients import address
from evaluation_hub.talkback.voice_relay import VoiceRelay

__all__ = ["EndedVoice", "StartedVoice", "end_voice", "start_voice"]


@dataclass(frozen=True)
class StartedVoice:
    talk_id: int  # the turn's row (talkback_messages.id)
    sdp: str  # the hub's answer
    seat_keys: tuple[str, ...]  # the seats addressed
    reaching: tuple[str, ...]  # those listening now


@dataclass(frozen=True)
class EndedVoice:
    talk_id: int
    duration_s: float
    frames: int  # audio frames received from the speaker


async def start_voice(
    hub: Services,
    voice: VoiceRelay,
    who: Principal,
    session_id: int,
    *,
    seat_id: int | None,
    sdp: str,
    now: datetime,
) -> StartedVoice:
    async with hub.db.read() as s:
        to = await address(s, who, session_id, seat_id, now=now)
    keys = tuple(seat.seat_key for seat in to.seats)
    opened = await voice.open_turn(who.username, keys, sdp)
    turn = opened.turn
    try:
        async with hub.db.write() as s:
            row = TalkbackRow(
                session_id=session_id,
                kind="voice",
                seat_key=None if to.seat is None else to.seat.seat_key,
                sender=who.username,
                sender_role=to.role,
                sent_at=now,
            )
            s.add(row)
            await s.flush()
            await append_event(
                s,
                kind="talkback.voice_started",
                subject=f"session:{session_id}",
                actor=who.username,
                payload={
                    "talk_id": row.id,
                    "to": "all" if to.seat is None else to.seat.seat_key,
                    "seats": list(keys),
                    "listening": list(opened.listening),
                    "role": to.role,
                },
                at=now,
            )
            talk_id = row.id
    except BaseException:
        await asyncio.shield(voice.close_turn(turn.id))
        raise
    turn.talk_id = talk_id
    return StartedVoice(talk_id, opened.sdp, keys, opened.listening)


async def end_voice(
    hub: Services, voice: VoiceRelay, who: Principal, talk_id: int, *, now: datetime
) -> EndedVoice:
    """End the caller's own turn ``talk_id`` (404 if no hub process holds it open)."""
    closed = await voice.end_turn(talk_id, who.username)
    async with hub.db.write() as s:
        row = await s.get(TalkbackRow, talk_id)
        assert row is not None
        duration = max(0.0, (now - row.sent_at).total_seconds())
        row.ended_at, row.duration_s = now, duration
        await append_event(
            s,
            kind="talkback.voice_ended",
            subject=f"session:{row.session_id}",
            actor=who.username,
            payload={
                "talk_id": talk_id,
                "duration_s": str(round(duration, 3)),
                "frames": closed.frames,
                "reached": list(closed.reached),
            },
            at=now,
        )
    return EndedVoice(talk_id, duration, closed.frames)
