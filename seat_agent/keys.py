"""The seat terminal's identity on disk: its keys and which hub it belongs to.

``init`` creates, in the state directory, an Ed25519 key (authenticates the terminal to the
hub) and an X25519 key (chapter content keys are wrapped for it), both as raw 32-byte private
keys in files readable by the owner only (0600), plus ``seat.json`` with the seat id, the hub's
URL and id. ``load`` reads them back. The enrolment code printed for the venue admin comes from
``seat_protocol.auth.enrolment_code``.

Never overwrites existing keys (re-enrolling with new keys is a deliberate act: a new state
directory), and never writes a private key with wider permissions than 0600.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
)

from seat_agent.errors import StateDirError
from seat_protocol.auth import enrolment_code, public_key_bytes

__all__ = ["SeatIdentity", "init_state_dir", "load_identity"]

ED25519_FILE = "ed25519.key"
X25519_FILE = "x25519.key"
CONFIG_FILE = "seat.json"


@dataclass(frozen=True)
class SeatIdentity:
    """Everything the agent needs to talk to its hub as this seat."""

    seat_id: str
    hub_url: str
    hub_id: str
    ed25519: Ed25519PrivateKey
    x25519: X25519PrivateKey
    state_dir: Path

    @property
    def ed25519_public(self) -> bytes:
        return public_key_bytes(self.ed25519)

    @property
    def x25519_public(self) -> bytes:
        return self.x25519.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)

    @property
    def enrolment_code(self) -> str:
        return enrolment_code(self.ed25519_public, self.x25519_public)


def _write_private(path: Path, data: bytes) -> None:
    # O_EXCL: never replace a key; the mode is set at creation so no moment has it world-readable.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)
    os.chmod(path, 0o600)  # the umask may have narrowed it; make it exactly 0600


def init_state_dir(state_dir: Path, *, seat_id: str, hub_url: str, hub_id: str) -> SeatIdentity:
    """Create fresh keys and ``seat.json`` in ``state_dir`` (created if missing)."""
    state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    for name in (ED25519_FILE, X25519_FILE, CONFIG_FILE):
        if (state_dir / name).exists():
            raise StateDirError(
                f"{state_dir / name} already exists; this terminal is already initialised "
                "(use a new --state-dir to enrol with new keys)"
            )
    ed = Ed25519PrivateKey.generate()
    x = X25519PrivateKey.generate()
    raw = (Encoding.Raw, PrivateFormat.Raw, NoEncryption())
    _write_private(state_dir / ED25519_FILE, ed.private_bytes(*raw))
    _write_private(state_dir / X25519_FILE, x.private_bytes(*raw))
    config = {"seat_id": seat_id, "hub_url": hub_url, "hub_id": hub_id}
    (state_dir / CONFIG_FILE).write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
    return SeatIdentity(seat_id, hub_url, hub_id, ed, x, state_dir)


def load_identity(state_dir: Path) -> SeatIdentity:
    """Read the identity ``init_state_dir`` wrote."""
    try:
        config = json.loads((state_dir / CONFIG_FILE).read_text(encoding="utf-8"))
        ed_raw = (state_dir / ED25519_FILE).read_bytes()
        x_raw = (state_dir / X25519_FILE).read_bytes()
    except FileNotFoundError as exc:
        raise StateDirError(
            f"{exc.filename} is missing; run `seat-agent init --state-dir {state_dir}` first"
        ) from exc
    except (OSError, ValueError) as exc:
        raise StateDirError(f"cannot read the terminal state in {state_dir}: {exc}") from exc
    if len(ed_raw) != 32 or len(x_raw) != 32:
        raise StateDirError(f"the key files in {state_dir} are damaged (expected 32 bytes each)")
    try:
        return SeatIdentity(
            seat_id=str(config["seat_id"]),
            hub_url=str(config["hub_url"]),
            hub_id=str(config["hub_id"]),
            ed25519=Ed25519PrivateKey.from_private_bytes(ed_raw),
            x25519=X25519PrivateKey.from_private_bytes(x_raw),
            state_dir=state_dir,
        )
    except (KeyError, TypeError) as exc:
        raise StateDirError(f"{state_dir / CONFIG_FILE} lacks {exc}") from exc
