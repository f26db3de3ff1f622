"""Verification of in-memory chains: every kind of problem, with its exact message."""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from hypothesis import given, settings
from hypothesis import strategies as st

from evaluation_hub.audit.chain import (
    GENESIS_HASH,
    AuditEvent,
    ProblemKind,
    VerifyReport,
    next_event,
    verify,
)
from evaluation_hub.audit.checkpoint import Checkpoint, sign_checkpoint
from evaluation_hub.audit.errors import InvalidAuditEvent

T0 = datetime(2025, 1, 24, 1, 0, tzinfo=UTC)
KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
OTHER_KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(100, 132)))
PUBLIC = KEY.public_key()


def build(n: int, start: AuditEvent | None = None, tag: str = "") -> list[AuditEvent]:
    events: list[AuditEvent] = []
    head = start
    for i in range(n):
        seq = (head.seq if head else 0) + 1
        head = next_event(
            head,
            at=T0 + timedelta(minutes=seq),
            actor=f"user:{seq % 3}",
            kind="booking.confirmed",
            subject=f"booking:{seq}",
            payload={"n": i, "price": Decimal("12.50"), "tag": tag},
        )
        events.append(head)
    return events


def checkpoints_every_10(events: list[AuditEvent]) -> list[Checkpoint]:
    return [sign_checkpoint(e, e.at + timedelta(seconds=1), KEY) for e in events if e.seq % 10 == 1]


CHAIN = build(12)
FLOAT: Any = 1.5  # what a hand edit of the JSON column can put there
CPS = checkpoints_every_10(CHAIN)  # at events 1 and 11


def fingerprint(key: Ed25519PrivateKey) -> str:
    return hashlib.sha256(key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)).hexdigest()


def problem(report: VerifyReport) -> tuple[ProblemKind, int, str]:
    assert report.problem is not None, report
    return report.problem.kind, report.problem.seq, report.problem.message


def test_an_untouched_chain_verifies() -> None:
    report = verify(CHAIN, CPS, PUBLIC)
    assert report.ok
    assert (report.events, report.checkpoints, report.covered_seq) == (12, 2, 11)
    assert report.head_hash == CHAIN[-1].hash
    assert report.summary() == f"audit chain OK: 12 events, 2 checkpoints, head {CHAIN[-1].hash}"


def test_an_empty_chain_verifies_with_the_genesis_head() -> None:
    assert verify([], [], PUBLIC).summary() == (
        f"audit chain OK: 0 events, 0 checkpoints, head {GENESIS_HASH}"
    )


def test_next_event_links_and_numbers() -> None:
    assert [e.seq for e in CHAIN] == list(range(1, 13))
    assert CHAIN[0].prev_hash == GENESIS_HASH
    assert all(b.prev_hash == a.hash for a, b in itertools.pairwise(CHAIN))
    assert CHAIN[0].payload == {"n": 0, "price": "12.50", "tag": ""}  # stored (normalised) form


@pytest.mark.parametrize(
    "field",
    ["actor", "kind", "subject", "payload", "at"],
)
def test_an_edited_field_is_named_at_its_event(field: str) -> None:
    changes: dict[str, Any] = {
        "actor": "user:99",
        "kind": "booking.rejected",
        "subject": "booking:99",
        "payload": {"n": 4, "price": "1.00", "tag": ""},
        "at": CHAIN[4].at + timedelta(microseconds=1),
    }
    edited = [*CHAIN[:4], dataclasses.replace(CHAIN[4], **{field: changes[field]}), *CHAIN[5:]]
    kind, seq, message = problem(verify(edited, CPS, PUBLIC))
    shown = dataclasses.replace(CHAIN[4], **{field: changes[field]})
    assert (kind, seq) == (ProblemKind.EDITED, 5)
    assert message == (
        f"event 5 ({shown.kind} on {shown.subject}) was edited: its contents do not match its "
        "stored hash"
    )


def test_an_edit_that_cannot_be_encoded_is_named() -> None:
    edited = [*CHAIN[:2], dataclasses.replace(CHAIN[2], payload={"n": FLOAT}), *CHAIN[3:]]
    assert problem(verify(edited, CPS, PUBLIC)) == (
        ProblemKind.EDITED,
        3,
        "event 3 (booking.confirmed on booking:3) was edited: its contents cannot be canonically "
        "encoded ($.payload.n: float 1.5 is not allowed; use an int, a Decimal or a string)",
    )


def test_a_removed_event_is_named() -> None:
    report = verify([*CHAIN[:4], *CHAIN[5:]], CPS, PUBLIC)
    assert problem(report) == (
        ProblemKind.REMOVED,
        5,
        "event 5 was removed: the chain goes from event 4 to event 6",
    )
    assert (report.events, report.checkpoints, report.head_hash) == (4, 1, CHAIN[3].hash)


def test_several_removed_events_are_named_as_a_range() -> None:
    assert problem(verify([*CHAIN[:4], *CHAIN[7:]], CPS, PUBLIC))[2] == (
        "events 5 to 7 were removed: the chain goes from event 4 to event 8"
    )


def test_a_removed_first_event_is_named() -> None:
    assert problem(verify(CHAIN[1:], [], PUBLIC)) == (
        ProblemKind.REMOVED,
        1,
        "event 1 was removed: the chain starts at event 2",
    )


def test_removed_events_after_the_last_checkpoint_are_named() -> None:
    assert problem(verify(CHAIN[:10], CPS, PUBLIC)) == (
        ProblemKind.REMOVED,
        11,
        "checkpoint at event 11 is beyond the end of the chain at event 10: events after 10 "
        "were removed",
    )


def test_a_chain_emptied_under_its_checkpoints_is_named() -> None:
    assert problem(verify([], CPS, PUBLIC))[2] == (
        "checkpoint at event 1 is beyond the end of the chain, which has no events: the events "
        "were removed"
    )


def test_an_event_moved_later_in_the_list_is_named() -> None:
    moved = [*CHAIN[:4], CHAIN[5], CHAIN[4], *CHAIN[6:]]
    assert problem(verify(moved, CPS, PUBLIC)) == (
        ProblemKind.REORDERED,
        5,
        "event 5 is out of order: it comes after event 6",
    )


def test_an_event_moved_to_the_end_is_named() -> None:
    moved = [*CHAIN[:2], *CHAIN[3:], CHAIN[2]]
    assert (
        problem(verify(moved, [], PUBLIC))[2] == "event 3 is out of order: it comes after event 4"
    )


def test_swapped_sequence_numbers_are_named() -> None:
    # What swapping two rows' seq in the database looks like when read back in seq order.
    swapped = [
        *CHAIN[:4],
        dataclasses.replace(CHAIN[5], seq=5),
        dataclasses.replace(CHAIN[4], seq=6),
        *CHAIN[6:],
    ]
    assert problem(verify(swapped, CPS, PUBLIC)) == (
        ProblemKind.REORDERED,
        5,
        "event 5 is out of order: it links back to event 6, which comes after it in the chain",
    )


def test_a_duplicated_event_is_named() -> None:
    doubled = [*CHAIN[:3], CHAIN[2], *CHAIN[3:]]
    assert problem(verify(doubled, CPS, PUBLIC)) == (
        ProblemKind.DUPLICATED,
        3,
        "event 3 appears twice in the chain",
    )


def test_a_removed_and_renumbered_event_breaks_the_link() -> None:
    renumbered = [*CHAIN[:4], *(dataclasses.replace(e, seq=e.seq - 1) for e in CHAIN[5:])]
    assert problem(verify(renumbered, [], PUBLIC)) == (
        ProblemKind.BROKEN_LINK,
        5,
        "event 5 does not link to event 4: its prev_hash matches no event, so an event before "
        "it was removed and the rest renumbered, or event 4 was edited and re-hashed",
    )


def test_a_link_skipping_back_is_named() -> None:
    skipping = [*CHAIN[:5], dataclasses.replace(CHAIN[5], prev_hash=CHAIN[3].hash), *CHAIN[6:]]
    assert problem(verify(skipping, CPS, PUBLIC)) == (
        ProblemKind.REORDERED,
        6,
        "event 6 links back to event 4, not to event 5: events between them were inserted or "
        "reordered",
    )


def test_a_first_event_not_linked_to_genesis_is_named() -> None:
    first = dataclasses.replace(CHAIN[0], prev_hash="1" * 64)
    assert problem(verify([first, *CHAIN[1:]], CPS, PUBLIC)) == (
        ProblemKind.BROKEN_LINK,
        1,
        "event 1 does not start the chain: its prev_hash is not the genesis hash (64 zeros); it "
        "was edited, or events before it were removed",
    )


def test_the_first_problem_in_sequence_order_is_reported() -> None:
    tampered = [*CHAIN[:2], dataclasses.replace(CHAIN[2], actor="x"), *CHAIN[3:7], *CHAIN[8:]]
    assert problem(verify(tampered, CPS, PUBLIC))[:2] == (ProblemKind.EDITED, 3)


def test_a_checkpoint_with_a_forged_signature_is_named() -> None:
    forged_sig = OTHER_KEY.sign(CPS[1].signed_message()).hex()
    forged = [CPS[0], dataclasses.replace(CPS[1], signature=forged_sig)]
    report = verify(CHAIN, forged, PUBLIC)
    assert problem(report) == (
        ProblemKind.CHECKPOINT_SIGNATURE,
        11,
        "checkpoint at event 11 has an invalid signature: it was forged or altered after signing",
    )
    assert (report.events, report.checkpoints) == (10, 1)


@pytest.mark.parametrize("signature", ["", "zz", "00" * 64])
def test_a_checkpoint_with_a_malformed_signature_is_named(signature: str) -> None:
    broken = [dataclasses.replace(CPS[0], signature=signature), CPS[1]]
    assert problem(verify(CHAIN, broken, PUBLIC))[:2] == (ProblemKind.CHECKPOINT_SIGNATURE, 1)


def test_a_checkpoint_altered_after_signing_is_named() -> None:
    altered = [CPS[0], dataclasses.replace(CPS[1], at=CPS[1].at + timedelta(seconds=1))]
    assert problem(verify(CHAIN, altered, PUBLIC))[2] == (
        "checkpoint at event 11 has an invalid signature: it was forged or altered after signing"
    )


def test_a_checkpoint_signed_with_another_key_names_both_keys() -> None:
    foreign = [CPS[0], sign_checkpoint(CHAIN[10], T0, OTHER_KEY)]
    assert problem(verify(CHAIN, foreign, PUBLIC)) == (
        ProblemKind.CHECKPOINT_SIGNATURE,
        11,
        f"checkpoint at event 11 names signing key {fingerprint(OTHER_KEY)[:16]}…, not the given "
        f"public key {fingerprint(KEY)[:16]}…, and its signature does not verify: pass the hub's "
        "public key, or the checkpoint was forged",
    )


def test_a_rehashed_chain_is_caught_by_the_next_checkpoint() -> None:
    # Whoever edits event 7 and recomputes every later hash keeps the chain self-consistent;
    # only the signed checkpoint at event 11 tells.
    rewritten = [*CHAIN[:6], *build(6, start=CHAIN[5], tag="rewritten")]
    assert verify(rewritten, CPS[:1], PUBLIC).ok
    assert problem(verify(rewritten, CPS, PUBLIC)) == (
        ProblemKind.CHECKPOINT_MISMATCH,
        11,
        f"checkpoint at event 11 does not match the chain: it signed hash {CHAIN[10].hash[:16]}… "
        f"but event 11 has hash {rewritten[10].hash[:16]}…; event 11 or an event before it was "
        "edited and the chain re-hashed",
    )


def test_a_slice_is_anchored_by_the_checkpoint_before_it() -> None:
    anchor = sign_checkpoint(CHAIN[3], T0, KEY)
    report = verify(CHAIN[4:], [*CPS, anchor], PUBLIC, first_seq=5)
    assert report.ok
    assert (report.events, report.checkpoints, report.covered_seq) == (8, 2, 11)
    cut = [dataclasses.replace(CHAIN[4], prev_hash="2" * 64), *CHAIN[5:]]
    assert problem(verify(cut, [anchor], PUBLIC, first_seq=5)) == (
        ProblemKind.BROKEN_LINK,
        5,
        "event 5 does not start the chain: its prev_hash is not the head hash signed by the "
        "checkpoint at event 4; it was edited, or events before it were removed",
    )


def test_a_slice_without_an_anchor_is_taken_on_trust_at_its_start() -> None:
    assert verify(CHAIN[4:], CPS, PUBLIC, first_seq=5).ok
    assert problem(verify(CHAIN[4:], CPS, PUBLIC, first_seq=4)) == (
        ProblemKind.REMOVED,
        4,
        "event 4 was removed: the chain starts at event 5",
    )
    assert problem(verify(CHAIN[2:], [], PUBLIC, first_seq=4))[2] == (
        "the chain starts at event 3, expected event 4"
    )


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"kind": ""}, "audit event kind must not be empty"),
        (
            {"kind": "Booking Confirmed"},
            "audit event kind 'Booking Confirmed' is not of the form 'booking.confirmed'",
        ),
        (
            {"subject": "booking 12"},
            "audit event subject 'booking 12' is not of the form 'booking:12'",
        ),
        ({"actor": "x" * 201}, "audit event actor is 201 characters long, at most 200 are allowed"),
        ({"actor": "a\x00"}, "$.actor: text contains NUL (U+0000), which PostgreSQL cannot store"),
        (
            {"at": datetime(2025, 1, 1)},
            "audit event time 2025-01-01T00:00:00 has no time zone; pass an aware datetime",
        ),
        ({"payload": [1]}, "audit event payload must be a JSON object (a dict), got list"),
        (
            {"payload": {"x": 0.1}},
            "$.payload.x: float 0.1 is not allowed; use an int, a Decimal or a string",
        ),
    ],
)
def test_next_event_refuses_what_cannot_be_stored(changes: dict[str, object], message: str) -> None:
    fields: dict[str, object] = {
        "at": T0,
        "actor": "user:1",
        "kind": "booking.confirmed",
        "subject": "booking:1",
        "payload": {},
    }
    fields.update(changes)
    with pytest.raises(InvalidAuditEvent) as caught:
        next_event(None, **fields)  # type: ignore[arg-type]
    assert str(caught.value) == message


_FIELDS = ["actor", "kind", "subject", "payload", "at", "prev_hash", "hash"]


@settings(max_examples=60, deadline=None)
@given(
    n=st.integers(1, 25),
    data=st.data(),
)
def test_any_single_field_edit_is_named_at_the_edited_event(n: int, data: st.DataObject) -> None:
    events = CHAIN[:n] if n <= len(CHAIN) else build(n)
    i = data.draw(st.integers(0, n - 1), label="index")
    field = data.draw(st.sampled_from(_FIELDS), label="field")
    original = events[i]
    new_value: Any = {
        "actor": original.actor + "x",
        "kind": original.kind + ".x",
        "subject": original.subject + "x",
        "payload": {**original.payload, "extra": 1},
        "at": original.at + timedelta(microseconds=1),
        "prev_hash": "f" * 64,
        "hash": "e" * 64,
    }[field]
    tampered = [*events[:i], dataclasses.replace(original, **{field: new_value}), *events[i + 1 :]]
    report = verify(tampered, [], PUBLIC)
    assert not report.ok
    assert report.problem is not None
    assert report.problem.seq == original.seq
    assert report.events == i
