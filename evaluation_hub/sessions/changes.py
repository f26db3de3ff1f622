"""Changes of one session, for the pages that watch it (评标会变更通知): the host's evaluation
console (评审控制台) hears, while it is open, that something about its session changed.

What counts as a change: every audit event about the session (subject ``session:N``): a
lifecycle move, the package attached, an override, a score save judged, a review round or an
answer, the seal, the reveal, a signature, a chapter release and each seat's delivery progress.
Each of those writes its audit event in its own unit of work, in one place per kind of change,
so publishing from there misses none and adds no second place to forget. The audit store notes
every event it appends in the unit of work (``audit.store.APPENDED_EVENTS``); after the commit,
:func:`changes_publisher` (a commit listener on the database) publishes one event per session
touched on the bus channel :func:`channel`, so pages connected to any hub process hear it. A
unit of work that rolls back publishes nothing.

An event says only *that* the session changed and the audit kinds: pages re-read through the
API, where access is checked (as for booking changes, ``api/events.py``). Who may watch a
session is who may see it (``access.Action.SEE_SESSION``): :func:`watch_session` checks it and
reads the snapshot a page's stream opens with, after the stream subscribed, so a page that
re-reads on the snapshot misses nothing. Publishing is best effort: the bus is told after the
commit and never undoes it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from evaluation_hub import access
from evaluation_hub.audit.store import APPENDED_EVENTS
from evaluation_hub.bus.base import Bus
from evaluation_hub.db.engine import CommitListener
from evaluation_hub.principal import Principal
from evaluation_hub.services import Services
from evaluation_hub.sessions.lookup import load_session

__all__ = [
    "SessionWatch",
    "changed_sessions",
    "changes_publisher",
    "channel",
    "watch_session",
]

_SUBJECT = "session:"


def channel(session_id: int) -> str:
    """The bus channel of one session's changes."""
    return f"{_SUBJECT}{session_id}"


def changed_sessions(appended: list[tuple[str, str]]) -> dict[int, list[str]]:
    """Session id → the kinds of the events about it, in order (from ``APPENDED_EVENTS``)."""
    changed: dict[int, list[str]] = {}
    for subject, kind in appended:
        ref = subject.removeprefix(_SUBJECT)
        if subject.startswith(_SUBJECT) and ref.isdigit():
            changed.setdefault(int(ref), []).append(kind)
    return changed


def changes_publisher(bus: Bus) -> CommitListener:
    """A commit listener publishing, per session a committed unit of work changed, one event
    ``{"type": "changed", "session_id", "kinds"}`` on the session's channel."""

    async def publish(info: Mapping[str, Any]) -> None:
        for session_id, kinds in changed_sessions(info.get(APPENDED_EVENTS, [])).items():
            event = {"type": "changed", "session_id": session_id, "kinds": kinds}
            await bus.publish(channel(session_id), event)

    return publish


@dataclass(frozen=True)
class SessionWatch:
    """What a watching page learns when its stream opens: the session as it stands, and what
    the watcher may do in it (pages hide what the hub would refuse)."""

    session_id: int
    project_name: str
    section: str
    state: str
    may_run_evaluation: bool
    may_release_chapters: bool


async def watch_session(hub: Services, actor: Principal, session_id: int) -> SessionWatch:
    """The session's snapshot for ``actor``, who must be allowed to see it."""
    async with hub.db.read() as s:
        loaded = await load_session(s, session_id)
        access.require(actor, access.Action.SEE_SESSION, loaded.target)
        session = loaded.session
        return SessionWatch(
            session_id=session.id,
            project_name=session.project_name,
            section=session.section,
            state=session.state,
            may_run_evaluation=access.allowed(actor, access.Action.RUN_EVALUATION, loaded.target),
            may_release_chapters=access.allowed(
                actor, access.Action.RELEASE_CHAPTERS, loaded.target
            ),
        )
