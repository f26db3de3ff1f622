"""Announcements on the expert's page (工位通知): what the host site or a supervisor sent to this
seat (``announcement``), each shown with who sent it and when until the expert dismisses it.

``AnnouncementBoard`` is fed the link's events (``SeatAgent.add_handler``). The hub sends an
announcement again whenever the seat reconnects while the session is on, so the board keeps
each ``announcement_id`` once, and one the expert dismissed stays dismissed. Kept in memory,
bounded: the newest ``limit`` announcements (a restarted agent hears the session's again).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from seat_protocol.events import Event, MessageReceived
from seat_protocol.messages import Announcement

__all__ = ["AnnouncementBoard"]


@dataclass
class AnnouncementBoard:
    limit: int = 200
    _seen: dict[int, Announcement] = field(default_factory=dict)
    _dismissed: set[int] = field(default_factory=set)

    async def on_event(self, event: Event) -> None:
        if isinstance(event, MessageReceived) and isinstance(event.message, Announcement):
            self.take(event.message)

    def take(self, msg: Announcement) -> None:
        self._seen.setdefault(msg.announcement_id, msg)
        while len(self._seen) > self.limit:
            oldest = min(self._seen)
            del self._seen[oldest]
            self._dismissed.discard(oldest)

    def dismiss(self, announcement_id: int) -> bool:
        """Hide one announcement from the page; False if this seat never received it."""
        if announcement_id not in self._seen:
            return False
        self._dismissed.add(announcement_id)
        return True

    def view(self) -> list[dict[str, Any]]:
        """The announcements still shown, newest first."""
        return [
            {
                "id": a.announcement_id,
                "session_id": a.session_id,
                "role": a.role,
                "role_name": a.role_name,
                "text": a.text,
                "at": a.at,
            }
            for key, a in sorted(self._seen.items(), reverse=True)
            if key not in self._dismissed
        ]
