from __future__ import annotations

import hashlib

import pytest

from seat_protocol.auth import (
    AUTH_DOMAIN,
    challenge_payload,
    enrolment_code,
    normalise_enrolment_code,
    public_key_bytes,
    sign_challenge,
    verify_challenge,
)
from tests.seat_protocol.wire import OTHER_KEY, SEAT_KEY

NONCE = bytes(32)
PUB = public_key_bytes(SEAT_KEY)


def test_payload_is_domain_nonce_and_length_prefixed_ids() -> None:
    assert challenge_payload(NONCE, "s1", "hub") == AUTH_DOMAIN + NONCE + b"\x02s1" + b"\x03hub"
    # Without the prefixes these two would sign the same bytes.
    assert challenge_payload(NONCE, "s1", "hub") != challenge_payload(NONCE, "s1h", "ub")


def test_payload_needs_a_32_byte_nonce() -> None:
    with pytest.raises(ValueError, match="nonce must be 32 bytes, got 31"):
        challenge_payload(bytes(31), "s", "h")


def test_signature_verifies_only_for_the_same_challenge() -> None:
    sig = sign_challenge(SEAT_KEY, NONCE, "s1", "hub")
    assert verify_challenge(PUB, sig, NONCE, "s1", "hub")
    assert not verify_challenge(PUB, sig, bytes([1]) + NONCE[1:], "s1", "hub")
    assert not verify_challenge(PUB, sig, NONCE, "s2", "hub")
    assert not verify_challenge(PUB, sig, NONCE, "s1", "hub-2")
    assert not verify_challenge(public_key_bytes(OTHER_KEY), sig, NONCE, "s1", "hub")
    forged = bytes([sig[0] ^ 1]) + sig[1:]
    assert not verify_challenge(PUB, forged, NONCE, "s1", "hub")


def test_malformed_keys_and_signatures_do_not_verify() -> None:
    sig = sign_challenge(SEAT_KEY, NONCE, "s1", "hub")
    assert not verify_challenge(PUB[:31], sig, NONCE, "s1", "hub")
    assert not verify_challenge(PUB, sig[:63], NONCE, "s1", "hub")
    # 32 bytes that are not a valid curve point.
    assert not verify_challenge(b"\xff" * 32, sig, NONCE, "s1", "hub")


def test_enrolment_code_is_25_digits_in_five_groups_from_both_keys() -> None:
    x = bytes(range(32, 64))
    code = enrolment_code(PUB, x)
    digest = hashlib.sha256(b"remote-evaluation-room/seat-enrolment/v2\x00" + PUB + x).digest()
    digits = f"{int.from_bytes(digest[:16], 'big') % 10**25:025d}"
    assert code == " ".join(digits[i : i + 5] for i in range(0, 25, 5))
    assert (
        code == "37381 41198 80679 28886 44671"
    )  # pinned: a change here breaks every printed code
    assert enrolment_code(x, PUB) != code
    # At least 80 bits: 10^25 codes.
    assert 10**25 >= 2**80


def test_a_typed_enrolment_code_is_read_whatever_its_grouping() -> None:
    code = "04719 88231 50602 19374 66015"
    for typed in (
        code,
        "0471988231506021937466015",
        "04719-88231-50602-19374-66015",
        " ０４７１９ 88231 50602 19374 66015 ",
    ):
        assert normalise_enrolment_code(typed) == code
    assert normalise_enrolment_code("0471988231") == "0471988231"  # too short: matches nothing
    assert normalise_enrolment_code("abcd-efgh") == "ABCDEFGH"


def test_enrolment_code_needs_32_byte_keys() -> None:
    with pytest.raises(ValueError, match="public keys must be 32 bytes each"):
        enrolment_code(PUB, b"short")
