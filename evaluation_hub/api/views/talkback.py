"""JSON of talk-back (喊话与通知): the panel (seats one may address, what was said) and a sent
announcement."""

from __future__ import annotations

from typing import Any

from evaluation_hub.live.seats import LiveSeat
from evaluation_hub.sessions.states import state_name
from evaluation_hub.talkback.announcements import SentAnnouncement, TalkbackEntry, TalkbackPanel
from evaluation_hub.talkback.recipients import ROLE_NAMES

__all__ = ["entry_json", "panel_json", "sent_json"]


def _seat_json(seat: LiveSeat) -> dict[str, Any]:
    return {
        "seat_id": seat.seat_id,
        "seat_key": seat.seat_key,
        "label": seat.label,
        "venue_id": seat.venue_id,
        "venue_name": seat.venue_name,
        "expert_code": seat.expert_code,
    }


def entry_json(entry: TalkbackEntry) -> dict[str, Any]:
    return {
        "id": entry.id,
        "kind": entry.kind,
        "kind_name": "文字通知" if entry.kind == "text" else "语音喊话",
        "to": entry.seat_key or "all",
        "to_name": "全部工位" if entry.seat_key is None else entry.seat_key,
        "sender": entry.sender,
        "role": entry.role,
        "role_name": ROLE_NAMES.get(entry.role, entry.role),
        "text": entry.text,
        "sent_at": entry.sent_at.isoformat(),
        "duration_s": None if entry.duration_s is None else round(entry.duration_s, 1),
    }


def panel_json(panel: TalkbackPanel) -> dict[str, Any]:
    heard = panel.audience
    return {
        "session_id": heard.session_id,
        "everyone": heard.everyone,
        "seats": [_seat_json(seat) for seat in heard.seats],
        "state": heard.state,
        "state_name": state_name(heard.state) if heard.state else "",
        "on": heard.on,
        "history": [entry_json(e) for e in panel.history],
    }


def sent_json(sent: SentAnnouncement) -> dict[str, Any]:
    return {
        **entry_json(sent.entry),
        "seats": list(sent.seat_keys),
        "pushed": list(sent.pushed),
    }
