from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given
from hypothesis import strategies as st

from scoring.errors import SignatureInvalid
from scoring.sheets import ScoreEntry, ScoreSheet
from scoring.signing import (
    canonical,
    decimal_text,
    save_document,
    sheet_document,
    sign,
    verify,
)

KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
SHEET = ScoreSheet(
    "S-1",
    "E1",
    (
        ScoreEntry("ch2", "KQ", "2.1", Decimal("6.50"), "措施具体"),
        ScoreEntry("ch1", "AB", "1.1", Decimal("8")),
    ),
    {("ch1", "AB"): Decimal("8.0")},
)


def test_canonical_encoding_is_exact() -> None:
    assert (
        canonical(sheet_document(SHEET))
        == (
            '{"declared_totals":[{"part":"ch1","subject":"AB","total":"8"}],'
            '"entries":[{"changed_in_review":false,"comment":"","item":"1.1","part":"ch1","points":"8","subject":"AB"},'
            '{"changed_in_review":false,"comment":"措施具体","item":"2.1","part":"ch2","points":"6.5","subject":"KQ"}],'
            '"expert_id":"E1","session_id":"S-1","type":"score-sheet/1"}'
        ).encode()
    )


@pytest.mark.parametrize(
    ("value", "text"),
    [
        ("8.50", "8.5"),
        ("0E-2", "0"),
        ("-0", "0"),
        ("1E+3", "1000"),
        ("34560000.00", "34560000"),
        ("0.001", "0.001"),
    ],
)
def test_decimal_text(value: str, text: str) -> None:
    assert decimal_text(Decimal(value)) == text


@given(
    st.decimals(
        allow_nan=False, allow_infinity=False, places=3, min_value=-(10**6), max_value=10**6
    )
)
def test_equal_values_encode_equally(value: Decimal) -> None:
    assert Decimal(decimal_text(value)) == value
    assert decimal_text(value) == decimal_text(value.quantize(Decimal("0.00001")))


def test_floats_and_odd_keys_are_refused() -> None:
    with pytest.raises(TypeError, match="floats are not allowed"):
        canonical({"x": 0.1})
    with pytest.raises(TypeError, match="mapping keys in signed documents must be str"):
        canonical({1: "x"})
    with pytest.raises(TypeError, match="cannot encode set"):
        canonical({"x": {1}})


def test_sign_and_verify() -> None:
    document = sheet_document(SHEET)
    signature = sign(KEY, document)
    verify(KEY.public_key(), document, signature)
    # the same sheet with entries in another order signs the same bytes
    verify(KEY.public_key(), sheet_document(replace(SHEET, entries=SHEET.entries[::-1])), signature)


def test_a_changed_score_or_another_key_fails() -> None:
    signature = sign(KEY, sheet_document(SHEET))
    changed = replace(
        SHEET, entries=(replace(SHEET.entries[0], points=Decimal("7")), SHEET.entries[1])
    )
    with pytest.raises(SignatureInvalid) as info:
        verify(KEY.public_key(), sheet_document(changed), signature)
    assert str(info.value) == (
        "the signature does not match this document: it was signed by another key or the "
        "document changed after signing"
    )
    other = Ed25519PrivateKey.from_private_bytes(bytes(32)).public_key()
    with pytest.raises(SignatureInvalid):
        verify(other, sheet_document(SHEET), signature)


def test_a_seat_save_signs_its_wire_sheet_with_numbers_as_their_decimal_text() -> None:
    sheet = {"part": "ch1", "entries": [{"points": 8.5, "n": 8}, {"points": 8.0}, {"p": 1e-07}]}
    document = save_document("12", "k-1", sheet)
    assert canonical(document) == (
        b'{"idempotency_key":"k-1","session_id":"12","sheet":{"entries":'
        b'[{"n":8,"points":"8.5"},{"points":"8.0"},{"p":"0.0000001"}],"part":"ch1"},'
        b'"type":"score-save/1"}'
    )
    # What an archive stores (the float as its decimal text) signs the same bytes.
    stored = {"part": "ch1", "entries": [{"points": "8.5", "n": 8}, {"points": "8.0"},
                                         {"p": "0.0000001"}]}  # fmt: skip
    assert canonical(save_document("12", "k-1", stored)) == canonical(document)
    signature = sign(KEY, document)
    verify(KEY.public_key(), save_document("12", "k-1", stored), signature)
    # Another key, session or sheet: the signature does not hold.
    for other in (
        save_document("12", "k-2", sheet),
        save_document("13", "k-1", sheet),
        save_document("12", "k-1", {**sheet, "part": "ch2"}),
    ):
        with pytest.raises(SignatureInvalid):
            verify(KEY.public_key(), other, signature)
    with pytest.raises(ValueError, match="cannot encode nan"):
        save_document("12", "k-1", {"points": float("nan")})
