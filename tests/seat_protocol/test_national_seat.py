"""The seat's side of the national suite: SM2 enrolment keys and code, the challenge, chapters
sealed with SM4-GCM under an SM2-encrypted content key, and the hub's SM4-GCM sealer."""

from __future__ import annotations

import base64
import stat
from pathlib import Path

import pytest

from evaluation_hub.sealing import Sealer, SealingError
from seat_agent.keys import init_state_dir, load_identity
from seat_protocol.auth import enrolment_code, sign_challenge, verify_challenge
from seat_protocol.chapter_crypto import ChapterSealError, open_chapter, seal_chapter
from seat_protocol.messages import Enroll, b64
from seat_protocol.sm2 import SM2PrivateKey
from seat_protocol.suites import DEFAULT, NATIONAL

NONCE = bytes(range(32))


def test_the_challenge_signed_with_an_sm2_key() -> None:
    key = SM2PrivateKey.generate()
    public = key.public_key().encoded()
    signature = sign_challenge(key, NONCE, "DL.DL-01", "hub-km")
    assert verify_challenge(public, signature, NONCE, "DL.DL-01", "hub-km")
    assert not verify_challenge(public, signature, NONCE, "DL.DL-02", "hub-km")
    other = SM2PrivateKey.generate().public_key().encoded()
    assert not verify_challenge(other, signature, NONCE, "DL.DL-01", "hub-km")


def test_the_enrolment_code_of_sm2_keys() -> None:
    sign_key, seal_key = SM2PrivateKey.generate(), SM2PrivateKey.generate()
    a, b = sign_key.public_key().encoded(), seal_key.public_key().encoded()
    code = enrolment_code(a, b)
    assert code == enrolment_code(a, b) != enrolment_code(b, a)
    assert len(code.replace(" ", "")) == 25
    with pytest.raises(ValueError, match="public keys must be 32 bytes each"):
        enrolment_code(a, bytes(32))
    message = Enroll(
        seat_id="DL.DL-01", ed25519_public_key=b64(a), x25519_public_key=b64(b), enrolment_code=code
    )
    assert message.ed25519_public_key == b64(a)
    with pytest.raises(ValueError, match="must be of the same suite as ed25519_public_key"):
        Enroll(
            seat_id="DL.DL-01",
            ed25519_public_key=b64(a),
            x25519_public_key=b64(bytes(32)),
            enrolment_code=code,
        )


def test_a_chapter_sealed_for_an_sm2_seat() -> None:
    seat, other = SM2PrivateKey.generate(), SM2PrivateKey.generate()
    text = "第一章 施工组织设计".encode() * 500
    sealed = seal_chapter(
        text, label="A", position=1, seat_public_key=seat.public_key(), context="c", chunk_size=1024
    )
    # The content key travels SM2-encrypted: C1 (65) || C3 (32) || C2 (the 16-byte SM4 key).
    assert len(base64.b64decode(sealed.manifest.wrapped_key)) == 65 + 32 + 16
    assert open_chapter(sealed.manifest, sealed.chunks, seat, "c") == text
    with pytest.raises(ChapterSealError, match="cannot be opened with this seat's key"):
        open_chapter(sealed.manifest, sealed.chunks, other, "c")
    with pytest.raises(ChapterSealError, match="cannot be opened with this seat's key"):
        open_chapter(sealed.manifest, sealed.chunks, seat, "another place")


def test_seat_agent_init_with_the_national_suite(tmp_path: Path) -> None:
    state = tmp_path / "seat"
    made = init_state_dir(
        state, seat_id="DL.DL-01", hub_url="ws://127.0.0.1:8440/seat", hub_id="h", suite=NATIONAL
    )
    assert sorted(p.name for p in state.iterdir()) == ["seat.json", "sm2-seal.key", "sm2-sign.key"]
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in state.iterdir())
    loaded = load_identity(state)
    assert loaded.suite is NATIONAL and len(loaded.ed25519_public) == 65
    assert (loaded.ed25519_public, loaded.x25519_public) == (
        made.ed25519_public,
        made.x25519_public,
    )
    assert loaded.enrolment_code == made.enrolment_code


def test_the_national_sealer() -> None:
    national, default = Sealer(bytes(32), NATIONAL), Sealer(bytes(32), DEFAULT)
    sealed = national.seal(b"seed", "evaluation-shuffle-seed:1")
    assert base64.urlsafe_b64decode(sealed)[0] == 2
    assert national.open(sealed, "evaluation-shuffle-seed:1") == b"seed"
    with pytest.raises(SealingError, match="cannot open the sealed value"):
        national.open(sealed, "evaluation-shuffle-seed:2")
    with pytest.raises(SealingError) as caught:
        default.open(sealed, "evaluation-shuffle-seed:1")
    assert str(caught.value) == (
        "the value for evaluation-shuffle-seed:1 was sealed in the national cryptographic "
        "suite, this hub seals in the default suite"
    )
    assert national.mac(b"123456", "pin") != default.mac(b"123456", "pin")
