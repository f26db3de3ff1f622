from __future__ import annotations

import stat
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
)

from evaluation_hub.audit.errors import AuditKeyError
from evaluation_hub.audit.keys import (
    load_or_create_private_key,
    load_private_key,
    load_public_key,
    write_public_key,
)


def raw_public(key: object) -> bytes:
    return key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)  # type: ignore[attr-defined, no-any-return]


def test_a_missing_key_is_created_private_and_loaded_the_next_time(tmp_path: Path) -> None:
    path = tmp_path / "hub-audit.pem"
    created = load_or_create_private_key(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")
    assert list(tmp_path.iterdir()) == [path]  # no temporary file left behind
    again = load_or_create_private_key(path)
    assert raw_public(again) == raw_public(created)


def test_a_key_readable_by_others_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "hub-audit.pem"
    load_or_create_private_key(path)
    path.chmod(0o644)
    with pytest.raises(AuditKeyError) as caught:
        load_private_key(path)
    assert str(caught.value) == (
        f"audit key {path}: is accessible to group or others (mode 0644); run `chmod 600 {path}`"
    )


def test_missing_and_malformed_key_files_are_named(tmp_path: Path) -> None:
    missing = tmp_path / "missing.pem"
    with pytest.raises(AuditKeyError) as caught:
        load_public_key(missing)
    assert str(caught.value) == f"audit key {missing}: cannot be read (No such file or directory)"

    junk = tmp_path / "junk.pem"
    junk.write_bytes(b"not a key")
    junk.chmod(0o600)
    with pytest.raises(AuditKeyError) as caught:
        load_private_key(junk)
    assert str(caught.value) == f"audit key {junk}: is not an unencrypted PEM private key"
    with pytest.raises(AuditKeyError) as caught:
        load_public_key(junk)
    assert str(caught.value) == (
        f"audit key {junk}: is not a PEM public key (-----BEGIN PUBLIC KEY-----)"
    )


def test_keys_of_another_algorithm_are_refused(tmp_path: Path) -> None:
    ec_key = ec.derive_private_key(12345, ec.SECP256R1())
    private = tmp_path / "ec.pem"
    private.write_bytes(ec_key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()))
    private.chmod(0o600)
    public = tmp_path / "ec.pub.pem"
    public.write_bytes(
        ec_key.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
    )
    with pytest.raises(AuditKeyError) as caught:
        load_private_key(private)
    assert str(caught.value) == f"audit key {private}: holds a ECPrivateKey, not an Ed25519 key"
    with pytest.raises(AuditKeyError) as caught:
        load_public_key(public)
    assert str(caught.value) == f"audit key {public}: holds a ECPublicKey, not an Ed25519 key"


def test_the_public_key_file_round_trips(tmp_path: Path) -> None:
    key = load_or_create_private_key(tmp_path / "hub-audit.pem")
    write_public_key(key, tmp_path / "hub-audit.pub.pem")
    loaded = load_public_key(tmp_path / "hub-audit.pub.pem")
    assert loaded.public_bytes(Encoding.Raw, PublicFormat.Raw) == raw_public(key)
