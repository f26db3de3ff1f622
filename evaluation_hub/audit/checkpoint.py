"""Signed checkpoints of the audit chain: when to take one, how it is signed and checked.

A checkpoint (签名检查点) is the statement "the chain's event ``seq`` has hash ``head_hash``",
made at ``at`` and signed with the hub's key (Ed25519 or SM2, the chain's suite). Whoever edits stored events and re-hashes
every later one to hide it still cannot produce the signatures, so checkpoints turn "the chain
is self-consistent" into "the chain is the one the hub wrote", up to the last checkpoint.

The signed message is ``CHECKPOINT_DOMAIN || canonical({"at", "head_hash", "key_id", "seq"})``
(see docs/audit-chain.md). ``key_id`` is the hash (SHA-256 or SM3, the key's suite) of the raw
public key, so a checkpoint
signed with a rotated key is reported as such instead of as a forgery.

Pure: no clock (``now`` is a parameter), no files (keys are objects; see ``keys.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from cryptography.exceptions import InvalidSignature

from evaluation_hub.audit.canonical import canonical, format_timestamp
from evaluation_hub.audit.errors import CanonicalEncodingError
from evaluation_hub.errors import ConfigError
from seat_protocol.suites import PublicKey, SigningKey, suite_of_key

__all__ = [
    "CHECKPOINT_DOMAIN",
    "ChainHead",
    "Checkpoint",
    "CheckpointPolicy",
    "checkpoint_due",
    "key_fingerprint",
    "sign_checkpoint",
    "signature_valid",
]

CHECKPOINT_DOMAIN = b"evaluation-hub/audit-checkpoint/v1\n"


class ChainHead(Protocol):
    """The last event of a chain, as far as a checkpoint cares (``AuditEvent`` fits)."""

    @property
    def seq(self) -> int: ...

    @property
    def hash(self) -> str: ...


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """A signed statement that event ``seq`` of the chain has hash ``head_hash``."""

    seq: int
    head_hash: str
    at: datetime
    key_id: str
    signature: str  # hex of the 64-byte signature (Ed25519, or SM2's r || s)

    def signed_message(self) -> bytes:
        return CHECKPOINT_DOMAIN + canonical(
            {"seq": self.seq, "head_hash": self.head_hash, "at": self.at, "key_id": self.key_id}
        )


@dataclass(frozen=True, slots=True)
class CheckpointPolicy:
    """Take a checkpoint once ``every_events`` events or ``every`` time have passed since the last.

    Both are configuration; a chain with no new events since the last checkpoint never gets
    another one (there would be nothing new to vouch for).
    """

    every_events: int = 100
    every: timedelta = timedelta(minutes=10)

    def __post_init__(self) -> None:
        if self.every_events < 1:
            raise ConfigError(
                f"audit checkpoint every_events must be at least 1, got {self.every_events}"
            )
        if self.every <= timedelta(0):
            raise ConfigError(f"audit checkpoint interval must be positive, got {self.every}")


def key_fingerprint(public_key: PublicKey) -> str:
    """Hex hash of the raw public key in its suite (SHA-256 of Ed25519's 32 bytes, SM3 of SM2's
    65): the ``key_id`` in every checkpoint."""
    return suite_of_key(public_key).key_id(public_key)


def checkpoint_due(
    last: Checkpoint | None, head: ChainHead | None, now: datetime, policy: CheckpointPolicy
) -> bool:
    """Whether a checkpoint of ``head`` should be taken at ``now``.

    The first event of a chain is checkpointed at once so that the chain's start is anchored by
    a signature from the beginning.
    """
    if head is None:
        return False
    if last is None:
        return True
    if head.seq <= last.seq:
        return False
    return head.seq - last.seq >= policy.every_events or now - last.at >= policy.every


def sign_checkpoint(head: ChainHead, now: datetime, private_key: SigningKey) -> Checkpoint:
    """A checkpoint of ``head`` taken at ``now``, signed with ``private_key``."""
    format_timestamp(now)  # refuses a naive ``now`` before anything is signed
    unsigned = Checkpoint(
        seq=head.seq,
        head_hash=head.hash,
        at=now,
        key_id=key_fingerprint(private_key.public_key()),
        signature="",
    )
    signature = private_key.sign(unsigned.signed_message()).hex()
    return Checkpoint(
        seq=unsigned.seq,
        head_hash=unsigned.head_hash,
        at=unsigned.at,
        key_id=unsigned.key_id,
        signature=signature,
    )


def signature_valid(checkpoint: Checkpoint, public_key: PublicKey) -> bool:
    """Whether ``checkpoint`` carries a valid signature by ``public_key`` over its fields."""
    try:
        signature = bytes.fromhex(checkpoint.signature)
        public_key.verify(signature, checkpoint.signed_message())
    except (ValueError, InvalidSignature, CanonicalEncodingError):
        # A malformed signature or a stored field that no longer encodes (say a naive
        # timestamp written by hand) is as bad as a wrong signature.
        return False
    return True
