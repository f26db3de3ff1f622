"""Password hashes: the scrypt format every stored hash has, checked without surprises."""

from __future__ import annotations

import pytest

from evaluation_hub.admin.passwords import hash_password, verify_password

# Made by the hub's hashing as it was in evaluation_hub/api/auth.py before it moved here
# (hash_password("demo-2026", salt=bytes(range(16)))): hashes stored then must still verify.
STORED_BEFORE_THE_MOVE = (
    "scrypt$AAECAwQFBgcICQoLDA0ODw==$Au9KHkfdGFjjwgeeFwB9ai6PMstusUcOJvXolqM6yYw="
)


def test_the_format_is_unchanged_so_stored_hashes_still_verify() -> None:
    assert hash_password("demo-2026", salt=bytes(range(16))) == STORED_BEFORE_THE_MOVE
    assert verify_password("demo-2026", STORED_BEFORE_THE_MOVE)
    assert not verify_password("demo-2027", STORED_BEFORE_THE_MOVE)


def test_each_hash_has_its_own_salt() -> None:
    first, second = hash_password("correct horse"), hash_password("correct horse")
    assert first != second
    assert first.startswith("scrypt$") and "correct horse" not in first
    assert verify_password("correct horse", first) and verify_password("correct horse", second)


@pytest.mark.parametrize(
    "stored",
    [
        "",
        "plain-text",
        "scrypt$only-two",
        "bcrypt$AAECAwQFBgcICQoLDA0ODw==$Au9KHkfdGFjjwgeeFwB9ai6PMstusUcOJvXolqM6yYw=",
        "scrypt$not base64!$Au9KHkfdGFjjwgeeFwB9ai6PMstusUcOJvXolqM6yYw=",
        "scrypt$AAECAwQFBgcICQoLDA0ODw==$Au9KHkfdGFjjwgeeFwB9ai6PMstusUcOJvXolqM6yYw=$extra",
    ],
)
def test_anything_not_of_the_form_never_verifies(stored: str) -> None:
    assert verify_password("demo-2026", stored) is False
