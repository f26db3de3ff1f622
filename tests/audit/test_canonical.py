from __future__ import annotations

import hashlib
import json
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evaluation_hub.audit.canonical import (
    MAX_SAFE_INTEGER,
    canonical,
    format_timestamp,
    normalise,
    parse_timestamp,
)
from evaluation_hub.audit.chain import EVENT_DOMAIN, GENESIS_HASH, next_event
from evaluation_hub.audit.errors import CanonicalEncodingError

CST = timezone(timedelta(hours=8))


def test_encoding_of_every_type_written_out_by_hand() -> None:
    value = {
        "b": 1,
        "a": [True, False, None, "中文", -7],
        "d": Decimal("1.50"),
        "e": Decimal("1E+2"),
        "t": datetime(2025, 1, 26, 9, 30, 0, 4, tzinfo=CST),
        "day": date(2025, 2, 8),
        "q": 'say "hi"\n',
        "tuple": (1, 2),
    }
    assert (
        canonical(value)
        == (
            '{"a":[true,false,null,"中文",-7],"b":1,"d":"1.50","day":"2025-02-08","e":"100",'
            '"q":"say \\"hi\\"\\n","t":"2025-01-26T01:30:00.000004Z","tuple":[1,2]}'
        ).encode()
    )


def test_event_hash_is_sha256_of_domain_and_canonical_fields_written_out_by_hand() -> None:
    event = next_event(
        None,
        at=datetime(2025, 1, 26, 9, 30, tzinfo=CST),
        actor="user:7",
        kind="booking.confirmed",
        subject="booking:12",
        payload={"seats": 3, "venue": "V-HZ"},
    )
    expected_bytes = (
        b'{"actor":"user:7","at":"2025-01-26T01:30:00.000000Z","kind":"booking.confirmed",'
        b'"payload":{"seats":3,"venue":"V-HZ"},"prev_hash":"' + b"0" * 64 + b'","seq":1,'
        b'"subject":"booking:12"}'
    )
    assert EVENT_DOMAIN == b"evaluation-hub/audit-event/v1\n"
    assert event.prev_hash == GENESIS_HASH
    assert event.hash == hashlib.sha256(EVENT_DOMAIN + expected_bytes).hexdigest()


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ({"x": 1.5}, "$.x: float 1.5 is not allowed; use an int, a Decimal or a string"),
        (
            {"x": [float("nan")]},
            "$.x[0]: float nan is not allowed; use an int, a Decimal or a string",
        ),
        ({"x": Decimal("NaN")}, "$.x: Decimal NaN is not a finite number"),
        ({"x": Decimal("-Infinity")}, "$.x: Decimal -Infinity is not a finite number"),
        (
            {"x": datetime(2025, 1, 1, 8, 0)},
            "$.x: naive datetime 2025-01-01T08:00:00 has no time zone; pass an aware one",
        ),
        (
            {"x": MAX_SAFE_INTEGER + 1},
            "$.x: integer 9007199254740992 is outside ±(2**53 - 1); store it as a string or Decimal",
        ),
        ({1: "a"}, "$: object key 1 is not a string"),
        ({"x": {1, 2}}, "$.x: values of type set have no canonical encoding"),
        ({"x": b"raw"}, "$.x: values of type bytes have no canonical encoding"),
        ({"x": "a\x00b"}, "$.x: text contains NUL (U+0000), which PostgreSQL cannot store"),
        ({"x\x00": 1}, "$: text contains NUL (U+0000), which PostgreSQL cannot store"),
        ({"x": "\ud800"}, "$.x: text contains a lone surrogate, not valid UTF-8"),
    ],
)
def test_values_without_a_canonical_encoding_are_refused(value: Any, message: str) -> None:
    with pytest.raises(CanonicalEncodingError) as caught:
        canonical(value)
    assert str(caught.value) == message


def test_largest_safe_integers_are_numbers() -> None:
    assert (
        canonical([MAX_SAFE_INTEGER, -MAX_SAFE_INTEGER]) == b"[9007199254740991,-9007199254740991]"
    )


def test_timestamps_are_utc_with_microseconds_and_parse_back() -> None:
    at = datetime(2025, 10, 1, 0, 0, tzinfo=CST)
    assert format_timestamp(at) == "2025-09-30T16:00:00.000000Z"
    assert parse_timestamp("2025-09-30T16:00:00.000000Z") == at
    with pytest.raises(CanonicalEncodingError) as caught:
        parse_timestamp("2025-09-30T16:00:00+00:00")
    assert str(caught.value) == (
        "$: '2025-09-30T16:00:00+00:00' is not an RFC 3339 UTC timestamp like "
        "2025-01-26T01:02:03.000004Z"
    )


_datetimes = st.datetimes(
    min_value=datetime(1900, 1, 1),
    max_value=datetime(2200, 1, 1),
    timezones=st.sampled_from([UTC, CST]),
)
# Values the encoder accepts (keys and text avoid NUL and lone surrogates).
_text = st.text(st.characters(codec="utf-8", exclude_characters="\x00"), max_size=8)
_scalars = (
    st.none()
    | st.booleans()
    | st.integers(-MAX_SAFE_INTEGER, MAX_SAFE_INTEGER)
    | _text
    | st.decimals(allow_nan=False, allow_infinity=False, places=3)
    | _datetimes
    | st.dates()
)
_values = st.recursive(
    _scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_text, inner, max_size=4),
    max_leaves=20,
)


def _reversed_keys(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _reversed_keys(value[k]) for k in reversed(list(value))}
    if isinstance(value, list):
        return [_reversed_keys(v) for v in value]
    return value


@settings(max_examples=150)
@given(_values)
def test_round_trip_through_json_gives_the_normalised_value(value: Any) -> None:
    assert json.loads(canonical(value).decode("utf-8")) == normalise(value)


@settings(max_examples=150)
@given(_values)
def test_key_order_does_not_change_the_encoding(value: Any) -> None:
    assert canonical(_reversed_keys(value)) == canonical(value)


@settings(max_examples=150)
@given(_values)
def test_normalising_is_idempotent_and_keeps_the_encoding(value: Any) -> None:
    once = normalise(value)
    assert normalise(once) == once
    assert canonical(once) == canonical(value)


@settings(max_examples=100)
@given(_datetimes)
def test_timestamp_text_round_trips_to_the_same_instant(at: datetime) -> None:
    assert parse_timestamp(format_timestamp(at)) == at
