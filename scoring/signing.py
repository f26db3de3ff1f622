"""Signatures over score sheets, results and the report (签名): canonical encoding and signing.

Keys are any object with ``cryptography``'s signing interface: an Ed25519 key (the default
suite) or an SM2 key (the national suite, ``seat_protocol.suites``); this module only needs
``sign(data)`` and ``verify(signature, data)`` raising ``InvalidSignature``.

Canonical encoding (what is signed): UTF-8 JSON with keys sorted, no whitespace
(``separators=(",", ":")``), non-ASCII characters written as themselves, and

* every ``Decimal`` as a JSON *string* of its value in plain notation, trailing zeros
  removed (``Decimal("8.50")`` → ``"8.5"``, ``Decimal("0E-2")`` → ``"0"``), so equal values
  always sign the same and no JSON parser ever turns a score into a float;
* tuples as arrays; mapping keys must be strings; floats are refused.

The same document always encodes to the same bytes, whatever built it. Keys are handled by
the I/O layer; this module only signs and verifies bytes it is given keys for.

A seat's score save is signed as :func:`save_document` of what it sends (the session id, the
idempotency key and the sheet exactly as on the wire). The sheet is wire JSON, which may hold
numbers with a fraction: each such float is written as the text of its shortest round-trip
decimal (Python's ``repr``, the same digits a JavaScript page prints) in plain notation
keeping its scale (``8.5`` → ``"8.5"``, ``8.0`` → ``"8.0"``, ``1e-07`` → ``"0.0000001"``),
so both ends and an archive reader that stored it as that decimal text sign the same bytes.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from decimal import Decimal
from typing import Any, Protocol

from cryptography.exceptions import InvalidSignature

from scoring.aggregation import Aggregation
from scoring.errors import SignatureInvalid
from scoring.model import BidPackage
from scoring.price import PriceResult, Ranking
from scoring.sheets import ScoreSheet

__all__ = [
    "canonical",
    "decimal_text",
    "result_document",
    "save_document",
    "sheet_document",
    "sign",
    "signature_document",
    "verify",
]

JsonValue = None | bool | int | str | list["JsonValue"] | dict[str, "JsonValue"]


class SigningKey(Protocol):
    """Ed25519PrivateKey, or an SM2 private key of the national suite."""

    def sign(self, data: bytes, /) -> bytes: ...


class VerifyingKey(Protocol):
    """Ed25519PublicKey, or an SM2 public key; raises ``InvalidSignature`` when it fails."""

    def verify(self, signature: bytes, data: bytes, /) -> None: ...


def decimal_text(value: Decimal) -> str:
    """A Decimal's value in plain notation without trailing zeros."""
    if not value.is_finite():
        raise ValueError(f"cannot encode {value}")
    if value == 0:
        return "0"
    return f"{value.normalize():f}"


def _prepare(value: object) -> JsonValue:
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, Decimal):
        return decimal_text(value)
    if isinstance(value, float):
        raise TypeError("floats are not allowed in signed documents; use Decimal")
    if isinstance(value, Mapping):
        out: dict[str, JsonValue] = {}
        for k, v in value.items():
            if not isinstance(k, str):
                raise TypeError(f"mapping keys in signed documents must be str, got {k!r}")
            out[k] = _prepare(v)
        return out
    if isinstance(value, list | tuple):
        return [_prepare(v) for v in value]
    raise TypeError(f"cannot encode {type(value).__name__} in a signed document")


def canonical(document: object) -> bytes:
    """The canonical bytes of a document (see the module docstring)."""
    return json.dumps(
        _prepare(document), sort_keys=True, separators=(",", ":"), ensure_ascii=False
    ).encode("utf-8")


def _wire(value: object) -> object:
    """Wire JSON with every float as its decimal text (see the module docstring)."""
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"cannot encode {value}")
        return format(Decimal(repr(value)), "f")
    if isinstance(value, Mapping):
        return {k: _wire(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_wire(v) for v in value]
    return value


def save_document(session_id: str, idempotency_key: str, sheet: Mapping[str, Any]) -> object:
    """What a seat signs when it sends a score save (``submit_score``): the save's session,
    its idempotency key and its sheet, as sent."""
    return {
        "type": "score-save/1",
        "session_id": session_id,
        "idempotency_key": idempotency_key,
        "sheet": _wire(sheet),
    }


def sheet_document(sheet: ScoreSheet) -> dict[str, object]:
    """What an expert signs: their sheet, entries in (part, subject, item) order."""
    entries = sorted(sheet.entries, key=lambda e: (e.part_id, e.subject, e.item_id))
    return {
        "type": "score-sheet/1",
        "session_id": sheet.session_id,
        "expert_id": sheet.expert_id,
        "entries": [
            {
                "part": e.part_id,
                "subject": e.subject,
                "item": e.item_id,
                "points": e.points,
                "comment": e.comment,
                "changed_in_review": e.changed_in_review,
            }
            for e in entries
        ],
        "declared_totals": [
            {"part": p, "subject": s, "total": t}
            for (p, s), t in sorted(sheet.declared_totals.items())
        ],
    }


def result_document(
    session_id: str,
    package: BidPackage,
    aggregation: Aggregation,
    prices: PriceResult,
    ranking: Ranking,
) -> dict[str, object]:
    """What the committee signs: the final result of the section."""
    return {
        "type": "evaluation-result/1",
        "session_id": session_id,
        "project": package.project.code,
        "section": package.section.code,
        "aggregation": {
            "rule": aggregation.rule.value,
            "places": aggregation.places,
            "experts": list(aggregation.experts),
            "kept_experts": list(aggregation.kept_experts),
            "dropped_expert": aggregation.dropped_expert,
            # The options the figures came from, so that a signed result says how it was
            # reached (and a verifier can recompute it) without the session's configuration.
            "trimmed": aggregation.trimmed,
            "trim_basis": aggregation.trim_basis.value,
            "trim_above": aggregation.trim_above,
            "technical_places": aggregation.technical_places,
            "commercial_places": aggregation.commercial_places,
            "rule_text": aggregation.describe(),
        },
        "benchmark_price": prices.benchmark.value,
        "ranking": [
            {
                "bidder": r.bidder_id,
                "rank": r.rank,
                "technical": r.technical,
                "commercial": r.commercial,
                "price": r.price,
                "price_score": r.price_score,
                "composite": r.composite,
                "tied": r.tied,
            }
            for r in ranking.rows
        ],
        "candidates": list(ranking.candidates),
        "excluded": dict(ranking.excluded),
    }


def signature_document(
    session_id: str, expert: str, agrees: bool, reason: str, result: Mapping[str, Any]
) -> dict[str, Any]:
    """What a committee member signs on the evaluation report (评标报告签署): the result, their
    agreement and their written reasons. The seat signs it with its key and the hub verifies
    the signature over the same document, so both ends build it here."""
    return {
        "type": "evaluation-report-signature/1",
        "session_id": session_id,
        "expert": expert,
        "agrees": agrees,
        "reason": reason,
        "result": dict(result),
    }


def sign(private_key: SigningKey, document: object) -> bytes:
    """The signature (Ed25519 or SM2, the key's) over the document's canonical encoding."""
    return private_key.sign(canonical(document))


def verify(public_key: VerifyingKey, document: object, signature: bytes) -> None:
    """Raise ``SignatureInvalid`` unless ``signature`` signs the document's canonical bytes."""
    try:
        public_key.verify(signature, canonical(document))
    except InvalidSignature:
        raise SignatureInvalid(
            "the signature does not match this document: it was signed by another key or "
            "the document changed after signing"
        ) from None
