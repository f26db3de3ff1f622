from __future__ import annotations

import dataclasses
import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from evaluation_hub.audit.canonical import canonical
from evaluation_hub.audit.checkpoint import (
    CHECKPOINT_DOMAIN,
    Checkpoint,
    CheckpointPolicy,
    checkpoint_due,
    key_fingerprint,
    sign_checkpoint,
    signature_valid,
)
from evaluation_hub.audit.errors import CanonicalEncodingError
from evaluation_hub.errors import ConfigError

KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
NOW = datetime(2025, 10, 9, 1, 0, tzinfo=UTC)
POLICY = CheckpointPolicy(every_events=10, every=timedelta(minutes=15))


@dataclass(frozen=True)
class Head:
    seq: int
    hash: str


def last_at(seq: int, minutes_ago: int) -> Checkpoint:
    return sign_checkpoint(Head(seq, "a" * 64), NOW - timedelta(minutes=minutes_ago), KEY)


@pytest.mark.parametrize(
    ("last", "head", "due"),
    [
        (None, None, False),  # nothing to vouch for
        (None, Head(1, "b" * 64), True),  # the chain's start is anchored at once
        (last_at(5, 60), Head(5, "a" * 64), False),  # no new events, however long ago
        (last_at(5, 1), Head(14, "b" * 64), False),  # 9 new events, 1 minute
        (last_at(5, 1), Head(15, "b" * 64), True),  # 10 new events
        (last_at(5, 14), Head(6, "b" * 64), False),  # 14 minutes
        (last_at(5, 15), Head(6, "b" * 64), True),  # 15 minutes
    ],
)
def test_checkpoint_due(last: Checkpoint | None, head: Head | None, due: bool) -> None:
    assert checkpoint_due(last, head, NOW, POLICY) is due


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"every_events": 0}, "audit checkpoint every_events must be at least 1, got 0"),
        ({"every": timedelta(0)}, "audit checkpoint interval must be positive, got 0:00:00"),
    ],
)
def test_policy_refuses_nonsense(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        CheckpointPolicy(**kwargs)  # type: ignore[arg-type]
    assert str(caught.value) == message


def test_signature_covers_the_documented_message() -> None:
    cp = sign_checkpoint(Head(11, "c" * 64), NOW, KEY)
    raw = KEY.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    assert cp.key_id == key_fingerprint(KEY.public_key()) == hashlib.sha256(raw).hexdigest()
    message = CHECKPOINT_DOMAIN + canonical(
        {"seq": 11, "head_hash": "c" * 64, "at": NOW, "key_id": cp.key_id}
    )
    assert cp.signed_message() == message
    KEY.public_key().verify(bytes.fromhex(cp.signature), message)  # raises if wrong
    assert signature_valid(cp, KEY.public_key())


@pytest.mark.parametrize(
    "change",
    [
        {"seq": 12},
        {"head_hash": "d" * 64},
        {"at": NOW + timedelta(microseconds=1)},
        {"key_id": "0" * 64},
        {"at": datetime(2025, 10, 9, 1, 0)},  # naive: no longer encodes
    ],
)
def test_any_changed_field_invalidates_the_signature(change: dict[str, object]) -> None:
    cp = sign_checkpoint(Head(11, "c" * 64), NOW, KEY)
    assert not signature_valid(dataclasses.replace(cp, **change), KEY.public_key())  # type: ignore[arg-type]


def test_signing_refuses_a_naive_time() -> None:
    with pytest.raises(CanonicalEncodingError):
        sign_checkpoint(Head(1, "c" * 64), datetime(2025, 10, 9), KEY)
