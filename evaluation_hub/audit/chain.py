"""Audit events, their hash chain, and verification that names the first problem.

Every event carries the hash of the event before it (``prev_hash``; the first event carries
:data:`GENESIS_HASH`) and its own hash::

    hash = H(EVENT_DOMAIN || canonical({"actor", "at", "kind", "payload",
                                        "prev_hash", "seq", "subject"}))

where H is the chain's suite's hash: SHA-256 (default) or SM3 (national); a database records
its chain's suite once (``store.chain_suite``) and never changes it.

so editing, removing or reordering a stored event breaks the chain at that event, and
:func:`verify` says which event and what happened. Signed checkpoints (``checkpoint.py``) pin the
chain to the hub's key. The encoding is in ``canonical.py`` and docs/audit-chain.md.

Pure: no I/O, no clock. The store (``store.py``) reads the head and writes what
:func:`next_event` returns; this module never decides *when* anything happens.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from evaluation_hub.audit.canonical import JSONValue, canonical, normalise
from evaluation_hub.audit.checkpoint import Checkpoint, key_fingerprint, signature_valid
from evaluation_hub.audit.errors import CanonicalEncodingError, InvalidAuditEvent
from seat_protocol.suites import DEFAULT, PublicKey, Suite, suite_of_key

__all__ = [
    "EVENT_DOMAIN",
    "GENESIS_HASH",
    "AuditEvent",
    "ChainProblem",
    "ProblemKind",
    "VerifyReport",
    "event_hash",
    "next_event",
    "verify",
]

EVENT_DOMAIN = b"evaluation-hub/audit-event/v1\n"
GENESIS_HASH = "0" * 64

# Column sizes in models.py; checked here so both back ends refuse the same events.
MAX_ACTOR = 200
MAX_KIND = 100
MAX_SUBJECT = 200
_KIND = re.compile(r"[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+")
_SUBJECT = re.compile(r"[a-z][a-z0-9_]*:\S+")


@dataclass(frozen=True, slots=True)
class AuditEvent:
    """One state change in the hub, as stored: ``booking.confirmed`` on ``booking:12`` by …"""

    seq: int
    at: datetime
    actor: str
    kind: str
    subject: str
    payload: dict[str, JSONValue]
    prev_hash: str
    hash: str


def _hashed_fields(
    seq: int,
    at: datetime,
    actor: str,
    kind: str,
    subject: str,
    payload: Mapping[str, Any],
    prev_hash: str,
) -> dict[str, object]:
    return {
        "seq": seq,
        "at": at,
        "actor": actor,
        "kind": kind,
        "subject": subject,
        "payload": payload,
        "prev_hash": prev_hash,
    }


def event_hash(event: AuditEvent, suite: Suite = DEFAULT) -> str:
    """The hash ``event`` should carry, computed from every field but ``hash`` itself."""
    fields = _hashed_fields(
        event.seq,
        event.at,
        event.actor,
        event.kind,
        event.subject,
        event.payload,
        event.prev_hash,
    )
    return suite.hexdigest(EVENT_DOMAIN + canonical(fields))


def _check_field(name: str, value: str, limit: int, pattern: re.Pattern[str] | None) -> None:
    if not value:
        raise InvalidAuditEvent(f"audit event {name} must not be empty")
    if len(value) > limit:
        raise InvalidAuditEvent(
            f"audit event {name} is {len(value)} characters long, at most {limit} are allowed"
        )
    if pattern is not None and not pattern.fullmatch(value):
        example = "booking.confirmed" if name == "kind" else "booking:12"
        raise InvalidAuditEvent(f"audit event {name} {value!r} is not of the form {example!r}")


def next_event(
    head: AuditEvent | None,
    *,
    at: datetime,
    actor: str,
    kind: str,
    subject: str,
    payload: Mapping[str, Any],
    suite: Suite = DEFAULT,
) -> AuditEvent:
    """The event that follows ``head`` (``None``: the first event of the chain), hashed with
    the chain's ``suite``.

    ``payload`` is normalised (Decimals and datetimes become strings) so the returned event is
    exactly what the database will give back, and hashes the same when read again.
    """
    if at.tzinfo is None or at.utcoffset() is None:
        raise InvalidAuditEvent(
            f"audit event time {at.isoformat()} has no time zone; pass an aware datetime"
        )
    _check_field("actor", actor, MAX_ACTOR, None)
    _check_field("kind", kind, MAX_KIND, _KIND)
    _check_field("subject", subject, MAX_SUBJECT, _SUBJECT)
    if not isinstance(payload, Mapping):
        raise InvalidAuditEvent(
            f"audit event payload must be a JSON object (a dict), got {type(payload).__name__}"
        )
    body = normalise(payload, "$.payload")
    assert isinstance(body, dict)  # a Mapping normalises to a dict
    normalise(actor, "$.actor")  # text checks: no NUL, valid UTF-8
    normalise(subject, "$.subject")
    unhashed = AuditEvent(
        seq=1 if head is None else head.seq + 1,
        at=at.astimezone(UTC),
        actor=actor,
        kind=kind,
        subject=subject,
        payload=body,
        prev_hash=GENESIS_HASH if head is None else head.hash,
        hash="",
    )
    return AuditEvent(
        seq=unhashed.seq,
        at=unhashed.at,
        actor=unhashed.actor,
        kind=unhashed.kind,
        subject=unhashed.subject,
        payload=unhashed.payload,
        prev_hash=unhashed.prev_hash,
        hash=event_hash(unhashed, suite),
    )


class ProblemKind(StrEnum):
    EDITED = "edited"  # an event's contents no longer match its hash
    REMOVED = "removed"  # a sequence number is missing, or events after a checkpoint are gone
    REORDERED = "reordered"  # events are out of sequence order or link to a later event
    DUPLICATED = "duplicated"  # one sequence number appears twice
    BROKEN_LINK = "broken_link"  # prev_hash matches no event at all
    CHECKPOINT_SIGNATURE = "checkpoint_signature"  # the signature does not verify
    CHECKPOINT_MISMATCH = "checkpoint_mismatch"  # signed head hash differs from the event's hash


@dataclass(frozen=True, slots=True)
class ChainProblem:
    """The first thing wrong with a chain: what, at which event, and a message saying so."""

    kind: ProblemKind
    seq: int
    message: str


@dataclass(frozen=True, slots=True)
class VerifyReport:
    """The outcome of :func:`verify`.

    ``events`` and ``checkpoints`` count what verified before the first problem (all of them if
    there is none); ``head_hash`` is the hash of the last verified event (the genesis hash for
    an empty chain) and ``covered_seq`` the last event a verified checkpoint vouches for
    (``None`` if none does): events after it are protected by their links only.
    """

    events: int
    checkpoints: int
    head_hash: str
    covered_seq: int | None
    problem: ChainProblem | None = field(default=None)

    @property
    def ok(self) -> bool:
        return self.problem is None

    def summary(self) -> str:
        if self.problem is not None:
            return self.problem.message
        return (
            f"audit chain OK: {self.events} events, {self.checkpoints} checkpoints, "
            f"head {self.head_hash}"
        )


def _short(digest: str) -> str:
    return digest[:16] + "…"


class _Walk:
    """State of one verification pass; ``run`` returns the report."""

    def __init__(
        self,
        events: Sequence[AuditEvent],
        checkpoints: Sequence[Checkpoint],
        public_key: PublicKey,
        first_seq: int,
        suite: Suite,
    ) -> None:
        self.events = events
        self.suite = suite
        self.public_key = public_key
        self.fingerprint = key_fingerprint(public_key)
        self.first_seq = first_seq
        self.checkpoints = sorted(checkpoints, key=lambda cp: cp.seq)
        self.positions: dict[int, list[int]] = {}
        self.by_hash: dict[str, int] = {}
        for i, event in enumerate(events):
            self.positions.setdefault(event.seq, []).append(i)
            self.by_hash.setdefault(event.hash, i)
        self.verified_events = 0
        self.verified_checkpoints = 0
        self.covered_seq: int | None = None
        self.head_hash = GENESIS_HASH

    def report(self, problem: ChainProblem | None = None) -> VerifyReport:
        return VerifyReport(
            events=self.verified_events,
            checkpoints=self.verified_checkpoints,
            head_hash=self.head_hash,
            covered_seq=self.covered_seq,
            problem=problem,
        )

    def run(self) -> VerifyReport:
        cps = self.checkpoints
        c = 0
        # Checkpoints before a slice are ignored, except the one right before it: that one
        # anchors the slice's first prev_hash.
        anchor: str | None = GENESIS_HASH if self.first_seq == 1 else None
        while c < len(cps) and cps[c].seq < self.first_seq:
            cp = cps[c]
            if cp.seq == self.first_seq - 1:
                if (problem := self._signature_problem(cp)) is not None:
                    return self.report(problem)
                anchor = cp.head_hash
                self.verified_checkpoints += 1
                self.covered_seq = cp.seq
            c += 1
        prev: AuditEvent | None = None
        for i, event in enumerate(self.events):
            expected = self.first_seq if prev is None else prev.seq + 1
            if event.seq != expected:
                return self.report(self._sequence_problem(i, event, expected, prev))
            link = anchor if prev is None else prev.hash
            if link is not None and event.prev_hash != link:
                return self.report(self._link_problem(i, event, prev))
            if (problem := self._content_problem(event)) is not None:
                return self.report(problem)
            while c < len(cps) and cps[c].seq == event.seq:
                if (problem := self._checkpoint_problem(cps[c], event)) is not None:
                    return self.report(problem)
                self.verified_checkpoints += 1
                self.covered_seq = event.seq
                c += 1
            self.verified_events += 1
            self.head_hash = event.hash
            prev = event
        if c < len(cps):
            return self.report(self._beyond_head_problem(cps[c], prev))
        return self.report()

    def _sequence_problem(
        self, i: int, event: AuditEvent, expected: int, prev: AuditEvent | None
    ) -> ChainProblem:
        if prev is not None and event.seq == prev.seq:
            return ChainProblem(
                ProblemKind.DUPLICATED, event.seq, f"event {event.seq} appears twice in the chain"
            )
        if event.seq < expected:
            if prev is None:
                return ChainProblem(
                    ProblemKind.REORDERED,
                    event.seq,
                    f"the chain starts at event {event.seq}, expected event {expected}",
                )
            return ChainProblem(
                ProblemKind.REORDERED,
                event.seq,
                f"event {event.seq} is out of order: it comes after event {prev.seq}",
            )
        if any(p > i for p in self.positions.get(expected, ())):
            return ChainProblem(
                ProblemKind.REORDERED,
                expected,
                f"event {expected} is out of order: it comes after event {event.seq}",
            )
        last_missing = event.seq - 1
        missing = (
            f"event {expected} was removed"
            if last_missing == expected
            else f"events {expected} to {last_missing} were removed"
        )
        where = (
            f"the chain starts at event {event.seq}"
            if prev is None
            else f"the chain goes from event {prev.seq} to event {event.seq}"
        )
        return ChainProblem(ProblemKind.REMOVED, expected, f"{missing}: {where}")

    def _link_problem(self, i: int, event: AuditEvent, prev: AuditEvent | None) -> ChainProblem:
        target = self.by_hash.get(event.prev_hash)
        if target is not None and target > i:
            return ChainProblem(
                ProblemKind.REORDERED,
                event.seq,
                f"event {event.seq} is out of order: it links back to event "
                f"{self.events[target].seq}, which comes after it in the chain",
            )
        if prev is None:
            return ChainProblem(
                ProblemKind.BROKEN_LINK,
                event.seq,
                f"event {event.seq} does not start the chain: its prev_hash is not "
                + (
                    "the genesis hash (64 zeros)"
                    if self.first_seq == 1
                    else f"the head hash signed by the checkpoint at event {self.first_seq - 1}"
                )
                + "; it was edited, or events before it were removed",
            )
        if target is not None and target < i:
            return ChainProblem(
                ProblemKind.REORDERED,
                event.seq,
                f"event {event.seq} links back to event {self.events[target].seq}, not to event "
                f"{prev.seq}: events between them were inserted or reordered",
            )
        return ChainProblem(
            ProblemKind.BROKEN_LINK,
            event.seq,
            f"event {event.seq} does not link to event {prev.seq}: its prev_hash matches no event, "
            f"so an event before it was removed and the rest renumbered, or event {prev.seq} was "
            "edited and re-hashed",
        )

    def _content_problem(self, event: AuditEvent) -> ChainProblem | None:
        try:
            computed = event_hash(event, self.suite)
        except CanonicalEncodingError as exc:
            return ChainProblem(
                ProblemKind.EDITED,
                event.seq,
                f"event {event.seq} ({event.kind} on {event.subject}) was edited: its contents "
                f"cannot be canonically encoded ({exc})",
            )
        if computed != event.hash:
            return ChainProblem(
                ProblemKind.EDITED,
                event.seq,
                f"event {event.seq} ({event.kind} on {event.subject}) was edited: its contents "
                "do not match its stored hash",
            )
        return None

    def _signature_problem(self, cp: Checkpoint) -> ChainProblem | None:
        if signature_valid(cp, self.public_key):
            return None
        if cp.key_id != self.fingerprint:
            return ChainProblem(
                ProblemKind.CHECKPOINT_SIGNATURE,
                cp.seq,
                f"checkpoint at event {cp.seq} names signing key {_short(cp.key_id)}, not the "
                f"given public key {_short(self.fingerprint)}, and its signature does not verify: "
                "pass the hub's public key, or the checkpoint was forged",
            )
        return ChainProblem(
            ProblemKind.CHECKPOINT_SIGNATURE,
            cp.seq,
            f"checkpoint at event {cp.seq} has an invalid signature: it was forged or altered "
            "after signing",
        )

    def _checkpoint_problem(self, cp: Checkpoint, event: AuditEvent) -> ChainProblem | None:
        if (problem := self._signature_problem(cp)) is not None:
            return problem
        if cp.head_hash != event.hash:
            return ChainProblem(
                ProblemKind.CHECKPOINT_MISMATCH,
                cp.seq,
                f"checkpoint at event {cp.seq} does not match the chain: it signed hash "
                f"{_short(cp.head_hash)} but event {event.seq} has hash {_short(event.hash)}; "
                f"event {event.seq} or an event before it was edited and the chain re-hashed",
            )
        return None

    def _beyond_head_problem(self, cp: Checkpoint, last: AuditEvent | None) -> ChainProblem:
        if (problem := self._signature_problem(cp)) is not None:
            return problem
        if last is None:
            message = (
                f"checkpoint at event {cp.seq} is beyond the end of the chain, which has no "
                "events: the events were removed"
            )
        else:
            message = (
                f"checkpoint at event {cp.seq} is beyond the end of the chain at event "
                f"{last.seq}: events after {last.seq} were removed"
            )
        return ChainProblem(ProblemKind.REMOVED, last.seq + 1 if last else self.first_seq, message)


def verify(
    events: Sequence[AuditEvent],
    checkpoints: Sequence[Checkpoint],
    public_key: PublicKey,
    *,
    first_seq: int = 1,
    suite: Suite | None = None,
) -> VerifyReport:
    """Walk ``events`` in the order given and report the first problem, if any.

    ``events`` is the whole chain (``first_seq=1``, the first event must link to the genesis
    hash) or a slice starting at ``first_seq``; a slice's first link is checked against the
    checkpoint at ``first_seq - 1`` when that checkpoint is among ``checkpoints``, and otherwise
    taken on trust. Problems are reported in sequence order; at one sequence number the event
    is checked before the checkpoints that vouch for it.

    ``suite`` is the chain's suite (read from the data, ``store.chain_suite``); ``None`` takes
    the public key's. A key of another suite than the chain's verifies no checkpoint.
    """
    chain_suite = suite_of_key(public_key) if suite is None else suite
    return _Walk(events, checkpoints, public_key, first_seq, chain_suite).run()
