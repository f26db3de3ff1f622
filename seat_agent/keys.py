"""The seat terminal's identity on disk: its keys and which hub it belongs to.

``init`` creates, in the state directory (0700), an Ed25519 key (authenticates the terminal
to the hub) and an X25519 key (chapter content keys are wrapped for it), both as raw 32-byte
private keys in files readable by the owner only (0600); for a hub of the national
cryptographic suite (``--suite national``) two SM2 keys instead, one that signs and one that
chapter keys are encrypted for (the SM2 practice of separate signing and encryption keys),
each its 32-byte private scalar. ``seat.json`` (0600) holds the suite, the seat id, the hub's
URL and id, and, for a ``wss://`` hub, the pin of the hub's TLS key
(``seat_agent.hub_pin``) once it is known: given at ``init`` (``--hub-pin``) or recorded by the
first enrolment (:func:`record_hub_pin`). ``load`` reads them back. The enrolment code printed
for the venue admin comes from ``seat_protocol.auth.enrolment_code``.

Never overwrites existing keys (re-enrolling with new keys is a deliberate act: a new state
directory), and never writes a private key with wider permissions than 0600.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path
from urllib.parse import urlsplit

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
from seat_protocol.sm2 import SM2PrivateKey
from seat_protocol.suites import DEFAULT, NATIONAL, SigningKey, Suite, UnknownSuite, suite_named

__all__ = [
    "SeatIdentity",
    "init_state_dir",
    "load_identity",
    "private_state_dir",
    "record_hub_pin",
]

ED25519_FILE = "ed25519.key"
X25519_FILE = "x25519.key"
SM2_SIGN_FILE = "sm2-sign.key"
SM2_SEAL_FILE = "sm2-seal.key"
_KEY_FILES = {
    DEFAULT.name: (ED25519_FILE, X25519_FILE),
    NATIONAL.name: (SM2_SIGN_FILE, SM2_SEAL_FILE),
}
CONFIG_FILE = "seat.json"


@dataclass(frozen=True)
class SeatIdentity:
    """Everything the agent needs to talk to its hub as this seat."""

    seat_id: str
    hub_url: str
    hub_id: str
    #: the signing key: Ed25519, or SM2 in the national suite (named for the default's)
    ed25519: SigningKey
    #: the key chapter keys are wrapped for: X25519, or SM2 in the national suite
    x25519: X25519PrivateKey | SM2PrivateKey
    state_dir: Path
    #: the SHA-256 of the hub's TLS public key (hex), for a ``wss://`` hub once known
    hub_pin: str | None = None
    suite: Suite = DEFAULT

    @property
    def uses_tls(self) -> bool:
        return urlsplit(self.hub_url).scheme == "wss"

    @property
    def ed25519_public(self) -> bytes:
        return public_key_bytes(self.ed25519)

    @property
    def x25519_public(self) -> bytes:
        if isinstance(self.x25519, SM2PrivateKey):
            return self.x25519.public_key().encoded()
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


def private_state_dir(state_dir: Path) -> Path:
    """The state directory, created (or narrowed) to 0700: it holds keys, scores, chapters."""
    state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    if state_dir.stat().st_mode & 0o777 != 0o700:
        os.chmod(state_dir, 0o700)
    return state_dir


def _write_config(state_dir: Path, config: dict[str, object]) -> None:
    """``seat.json``, 0600, replaced whole (a temporary file renamed into place)."""
    fd, tmp = tempfile.mkstemp(dir=state_dir, prefix=f".{CONFIG_FILE}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(json.dumps(config, indent=2) + "\n")
        os.replace(tmp, state_dir / CONFIG_FILE)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _config(identity: SeatIdentity) -> dict[str, object]:
    config: dict[str, object] = {
        "seat_id": identity.seat_id,
        "hub_url": identity.hub_url,
        "hub_id": identity.hub_id,
    }
    if identity.suite is not DEFAULT:
        config["suite"] = identity.suite.name
    if identity.hub_pin is not None:
        config["hub_pin"] = identity.hub_pin
    return config


def init_state_dir(
    state_dir: Path,
    *,
    seat_id: str,
    hub_url: str,
    hub_id: str,
    hub_pin: str | None = None,
    suite: Suite = DEFAULT,
) -> SeatIdentity:
    """Create fresh keys of ``suite`` and ``seat.json`` in ``state_dir`` (created if missing)."""
    private_state_dir(state_dir)
    for name in (ED25519_FILE, X25519_FILE, SM2_SIGN_FILE, SM2_SEAL_FILE, CONFIG_FILE):
        if (state_dir / name).exists():
            raise StateDirError(
                f"{state_dir / name} already exists; this terminal is already initialised "
                "(use a new --state-dir to enrol with new keys)"
            )
    if suite is NATIONAL:
        sm2_sign, sm2_seal = SM2PrivateKey.generate(), SM2PrivateKey.generate()
        _write_private(state_dir / SM2_SIGN_FILE, sm2_sign.scalar_bytes())
        _write_private(state_dir / SM2_SEAL_FILE, sm2_seal.scalar_bytes())
        identity = SeatIdentity(
            seat_id, hub_url, hub_id, sm2_sign, sm2_seal, state_dir, hub_pin, suite
        )
    else:
        ed = Ed25519PrivateKey.generate()
        x = X25519PrivateKey.generate()
        raw = (Encoding.Raw, PrivateFormat.Raw, NoEncryption())
        _write_private(state_dir / ED25519_FILE, ed.private_bytes(*raw))
        _write_private(state_dir / X25519_FILE, x.private_bytes(*raw))
        identity = SeatIdentity(seat_id, hub_url, hub_id, ed, x, state_dir, hub_pin)
    _write_config(state_dir, _config(identity))
    return identity


def record_hub_pin(identity: SeatIdentity, pin: str) -> SeatIdentity:
    """Record the hub key seen at the first enrolment; the identity that now holds it."""
    pinned = replace(identity, hub_pin=pin)
    _write_config(identity.state_dir, _config(pinned))
    return pinned


def load_identity(state_dir: Path) -> SeatIdentity:
    """Read the identity ``init_state_dir`` wrote (a state directory made before folders were
    0700 is narrowed to 0700)."""
    if state_dir.is_dir() and state_dir.stat().st_mode & 0o077:
        os.chmod(state_dir, 0o700)
    try:
        config = json.loads((state_dir / CONFIG_FILE).read_text(encoding="utf-8"))
        suite = suite_named(str(config.get("suite", DEFAULT.name)))
        sign_file, seal_file = _KEY_FILES[suite.name]
        ed_raw = (state_dir / sign_file).read_bytes()
        x_raw = (state_dir / seal_file).read_bytes()
    except FileNotFoundError as exc:
        raise StateDirError(
            f"{exc.filename} is missing; run `seat-agent init --state-dir {state_dir}` first"
        ) from exc
    except (OSError, ValueError, UnknownSuite) as exc:
        raise StateDirError(f"cannot read the terminal state in {state_dir}: {exc}") from exc
    if len(ed_raw) != 32 or len(x_raw) != 32:
        raise StateDirError(f"the key files in {state_dir} are damaged (expected 32 bytes each)")
    try:
        signing: SigningKey
        sealing: X25519PrivateKey | SM2PrivateKey
        if suite is NATIONAL:
            signing = SM2PrivateKey(int.from_bytes(ed_raw, "big"))
            sealing = SM2PrivateKey(int.from_bytes(x_raw, "big"))
        else:
            signing = Ed25519PrivateKey.from_private_bytes(ed_raw)
            sealing = X25519PrivateKey.from_private_bytes(x_raw)
        return SeatIdentity(
            seat_id=str(config["seat_id"]),
            hub_url=str(config["hub_url"]),
            hub_id=str(config["hub_id"]),
            ed25519=signing,
            x25519=sealing,
            state_dir=state_dir,
            hub_pin=None if config.get("hub_pin") is None else str(config["hub_pin"]),
            suite=suite,
        )
    except ValueError as exc:
        raise StateDirError(f"the key files in {state_dir} are damaged ({exc})") from exc
    except (KeyError, TypeError) as exc:
        raise StateDirError(f"{state_dir / CONFIG_FILE} lacks {exc}") from exc
