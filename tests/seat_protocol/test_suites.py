"""The two cryptographic suites: known answers from the standards, round trips and refusals."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from seat_protocol.sm2 import SM2DecryptionError, SM2PrivateKey, SM2PublicKey
from seat_protocol.suites import (
    DEFAULT,
    NATIONAL,
    SM4GCM,
    Suite,
    UnknownSuite,
    suite_named,
    suite_of_public_bytes,
)

# GB/T 32918.2-2016 Annex A (also GM/T 0003.2-2012): the 256-bit *test* curve of the annex.
TEST_CURVE = {
    "p": "8542D69E4C044F18E8B92435BF6FF7DE457283915C45517D722EDB8B08F1DFC3",
    "a": "787968B4FA32C3FD2417842E73BBFEFF2F3C848B6831D7E0EC65228B3937E498",
    "b": "63E4C6D3B23B0C849CF84241484BFE48F61D59A5B16BA06E6E12D1DA27C5249A",
    "g": "421DEBD61B62EAB6746434EBC3CC315E32220B3BADD50BDC4C4E6C147FEDD43D"
    "0680512BCBB42C07D47349D2153B70C4E5D7FDFCBFA36EA1A85841B9E46E09A2",
    "n": "8542D69E4C044F18E8B92435BF6FF7DD297720630485628D5AE74EE7C32E79B7",
}
ANNEX_D = 0x128B2FA8BD433C6C068C8D803DFF79792A519A55171B1B650C23661D15897263
ANNEX_K = 0x6CB28D99385C175C94F94E934817663FC176D925DD72B727260DBAAE1FB2F96F
ANNEX_X = 0x0AE4C7798AA0F119471BEE11825BE46202BB79E2A5844495E97C04FF4DF2548A
ANNEX_Y = 0x7C0240F88F1CD4E16352A73C17B7F16F07353E53A176D684A9FE0C6BB798E857
ANNEX_ID = b"ALICE123@YAHOO.COM"
ANNEX_R = "40F1EC59F793D9F49E09DCEF49130D4194F79FB1EED2CAA55BACDB49C4E755D1"
ANNEX_S = "6FC6DAC32C5D5CF10C77DFB20F7C2EB667A457872FB09EC56327A67EC7DEEBE7"

# GM/T 0003.5-2012 / GB/T 32918.5-2016 Annex A: the recommended curve, default identity.
REC_D = 0x3945208F7B2144B13F36E38AC6D39F95889393692860B51A42FB81EF4DF7C5B8
REC_SIGNATURE = bytes.fromhex(
    "F5A03B0648D2C4630EEAC513E1BB81A15944DA3827D5B74143AC7EACEEE720B3"
    "B1B6AA29DF212FD8763182BC0D421CA1BB9038FD1F7F42D4840B69C485BBC1AA"
)


def test_sm3_abc() -> None:  # GB/T 32905-2016 Annex A.1
    assert NATIONAL.hexdigest(b"abc") == (
        "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"
    )
    assert DEFAULT.hexdigest(b"abc") == (
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    )


def test_sm4_block() -> None:  # GB/T 32907-2016 Annex A.1
    key = bytes.fromhex("0123456789abcdeffedcba9876543210")
    encryptor = Cipher(algorithms.SM4(key), modes.ECB()).encryptor()
    assert (encryptor.update(key) + encryptor.finalize()).hex() == (
        "681edf34d206965e86b3e94f536e4246"
    )


def test_sm2_annex_example_on_the_test_curve() -> None:
    key = SM2PrivateKey(ANNEX_D, table=TEST_CURVE)
    public = key.public_key()
    assert (public.x, public.y) == (ANNEX_X, ANNEX_Y)
    signature = key.sign(b"message digest", identity=ANNEX_ID, k=ANNEX_K)
    assert signature.hex().upper() == ANNEX_R + ANNEX_S
    public.verify(signature, b"message digest", identity=ANNEX_ID)
    with pytest.raises(InvalidSignature):
        public.verify(signature, b"message digesT", identity=ANNEX_ID)


def test_sm2_published_signature_on_the_recommended_curve() -> None:
    public = SM2PrivateKey(REC_D).public_key()
    public.verify(REC_SIGNATURE, b"message digest")
    with pytest.raises(InvalidSignature):
        public.verify(REC_SIGNATURE, b"message digest.")


def test_sm2_round_trip_and_refusals() -> None:
    key, other = NATIONAL.generate_signing_key(), NATIONAL.generate_signing_key()
    signature = key.sign(b"score-save/1")
    assert len(signature) == 64
    key.public_key().verify(signature, b"score-save/1")
    with pytest.raises(InvalidSignature):  # a changed message
        key.public_key().verify(signature, b"score-save/2")
    with pytest.raises(InvalidSignature):  # the wrong key
        other.public_key().verify(signature, b"score-save/1")
    n = int(TEST_CURVE["n"], 16)  # r, s out of range are refused before any arithmetic
    for bad in (bytes(64), b"\xff" * 64, n.to_bytes(32, "big") * 2, signature[:63]):
        with pytest.raises(InvalidSignature):
            key.public_key().verify(bad, b"score-save/1")


def test_sm2_nonces_are_fresh() -> None:
    key = SM2PrivateKey.generate()
    assert key.sign(b"same") != key.sign(b"same")


def test_sm2_key_encodings() -> None:
    key = SM2PrivateKey.generate()
    pem = NATIONAL.private_pem(key)
    assert pem.startswith(b"-----BEGIN PRIVATE KEY-----\n")
    again = NATIONAL.load_private_pem(pem)
    assert again.public_key() == key.public_key()
    public_pem = NATIONAL.public_pem(key.public_key())
    assert NATIONAL.load_public_pem(public_pem) == key.public_key()
    raw = NATIONAL.public_bytes(key.public_key())
    assert len(raw) == 65 and raw[0] == 4
    assert NATIONAL.load_public(raw) == key.public_key()
    assert suite_of_public_bytes(raw) is NATIONAL
    off_curve = raw[:-1] + bytes([raw[-1] ^ 1])
    with pytest.raises(ValueError, match="not a point on the SM2 curve"):
        NATIONAL.load_public(off_curve)
    with pytest.raises(ValueError):
        NATIONAL.load_private_pem(DEFAULT.private_pem(DEFAULT.generate_signing_key()))


def test_sm2_spki_is_the_published_form() -> None:
    # The annex's public key as OpenSSL writes it (the PEM of GB/T 32918 Annex A's key).
    public = SM2PublicKey(ANNEX_X, ANNEX_Y, table=TEST_CURVE)
    pem = NATIONAL.public_pem(public)
    assert pem.splitlines()[1] == (
        b"MFkwEwYHKoZIzj0CAQYIKoEcz1UBgi0DQgAECuTHeYqg8RlHG+4RglvkYgK7eeKl"
    )


@pytest.mark.parametrize("suite", [DEFAULT, NATIONAL], ids=lambda s: s.name)
def test_aead_round_trip_and_tamper(suite: Suite) -> None:
    aead = suite.aead(bytes(range(suite.aead_key_size)))
    nonce = bytes(12)
    sealed = aead.encrypt(nonce, b"chapter text", b"context")
    assert len(sealed) == len(b"chapter text") + 16
    assert aead.decrypt(nonce, sealed, b"context") == b"chapter text"
    for bad_aad, bad_data in ((b"other", sealed), (b"context", sealed[:-1] + b"\0"), (b"", b"")):
        with pytest.raises(InvalidTag):
            aead.decrypt(nonce, bad_data, bad_aad)


def test_sm4_gcm_differs_from_aes_gcm() -> None:
    key = bytes(16)
    assert SM4GCM(key).encrypt(bytes(12), b"x", None) != DEFAULT.aead(bytes(32)).encrypt(
        bytes(12), b"x", None
    )
    with pytest.raises(ValueError, match="an SM4 key is 16 bytes"):
        SM4GCM(bytes(32))


@pytest.mark.parametrize("suite", [DEFAULT, NATIONAL], ids=lambda s: s.name)
def test_signing_round_trip(suite: Suite) -> None:
    key = suite.generate_signing_key()
    assert suite.owns(key) and suite.owns(key.public_key())
    signature = key.sign(b"document")
    assert len(signature) == suite.signature_size
    key.public_key().verify(signature, b"document")
    with pytest.raises(InvalidSignature):
        key.public_key().verify(signature, b"documenT")
    assert suite.load_private_pem(suite.private_pem(key)).sign is not None
    assert len(suite.key_id(key.public_key())) == 64
    assert len(suite.mac(b"k", b"v")) == 32


def test_suite_names() -> None:
    assert suite_named("national") is NATIONAL and suite_named("default") is DEFAULT
    with pytest.raises(UnknownSuite, match="unknown cryptographic suite 'gost'"):
        suite_named("gost")


def test_sm2_encryption_annex_example_on_the_test_curve() -> None:
    # GB/T 32918.4-2016 Annex A (GM/T 0003.4): written there as C1 || C2 || C3, here C1 || C3 || C2.
    key = SM2PrivateKey(
        0x1649AB77A00637BD5E2EFE283FBF353534AA7F7CB89463F208DDBC2920BB0DA0, table=TEST_CURVE
    )
    assert (key.public_key().x, key.public_key().y) == (
        0x435B39CCA8F3B508C1488AFC67BE491A0F7BA07E581A0E4849A5CF70628A7E0A,
        0x75DDBA78F15FEECB4C7895E2C1CDF5FE01DEBB2CDBADF45399CCF77BBA076A42,
    )
    c1 = (
        "04245C26FB68B1DDDDB12C4B6BF9F2B6D5FE60A383B0D18D1C4144ABF17F6252E7"
        "76CB9264C2A7E88E52B19903FDC47378F605E36811F5C07423A24B84400F01B8"
    )
    c2 = "650053A89B41C418B0C3AAD00D886C00286467"
    c3 = "9C3D7360C30156FAB7C80A0276712DA9D8094A634B766D3A285E07480653426D"
    k = 0x4C62EEFD6ECFC2B95B92FD6C3D9575148AFA17425546D49018E5388D49DD7B4F
    sealed = key.public_key().encrypt(b"encryption standard", k=k)
    assert sealed.hex().upper() == c1 + c3 + c2
    assert key.decrypt(sealed) == b"encryption standard"
    with pytest.raises(SM2DecryptionError):
        key.decrypt(sealed[:-1] + bytes([sealed[-1] ^ 1]))


def test_sm2_encryption_round_trip_and_the_wrong_key() -> None:
    key = SM2PrivateKey.generate()
    sealed = key.public_key().encrypt(b"k" * 16)
    assert key.decrypt(sealed) == b"k" * 16
    with pytest.raises(SM2DecryptionError):
        SM2PrivateKey.generate().decrypt(sealed)


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command")
def test_openssl_reads_the_sm2_keys_and_verifies_the_signatures(tmp_path: Path) -> None:
    key = SM2PrivateKey.generate()
    (tmp_path / "key.pem").write_bytes(NATIONAL.private_pem(key))
    (tmp_path / "pub.pem").write_bytes(NATIONAL.public_pem(key.public_key()))
    (tmp_path / "msg").write_bytes(b"evaluation-result/1")
    signature = key.sign(b"evaluation-result/1")
    r, s = (int.from_bytes(half, "big") for half in (signature[:32], signature[32:]))

    def der_integer(n: int) -> bytes:
        raw = n.to_bytes(n.bit_length() // 8 + 1, "big")
        return b"\x02" + bytes([len(raw)]) + raw

    body = der_integer(r) + der_integer(s)
    (tmp_path / "sig.der").write_bytes(b"\x30" + bytes([len(body)]) + body)
    shown = subprocess.run(
        ["openssl", "pkey", "-in", str(tmp_path / "key.pem"), "-noout", "-text"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert "ASN1 OID: SM2" in shown.stdout
    verified = subprocess.run(
        ["openssl", "pkeyutl", "-verify", "-pubin", "-inkey", str(tmp_path / "pub.pem"),
         "-rawin", "-in", str(tmp_path / "msg"), "-sigfile", str(tmp_path / "sig.der"),
         "-digest", "sm3", "-pkeyopt", "distid:1234567812345678"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert verified.stdout.strip() == "Signature Verified Successfully", verified.stderr
