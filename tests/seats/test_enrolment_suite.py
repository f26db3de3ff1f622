"""A hub admits enrolment requests only for seat keys of its cryptographic suite."""

from __future__ import annotations

import dataclasses

from evaluation_hub.db.engine import Database
from evaluation_hub.seats.enrolment_admission import admit_enrolment
from seat_protocol.auth import public_key_bytes
from seat_protocol.closecodes import CloseCode
from seat_protocol.sm2 import SM2PrivateKey
from seat_protocol.suites import DEFAULT
from tests.seats.conftest import NOW, services_for


async def test_keys_of_another_suite_are_refused_before_anything_is_counted(db: Database) -> None:
    default_hub = services_for(db)
    national_hub = dataclasses.replace(
        default_hub, config=dataclasses.replace(default_hub.config, crypto_suite="national")
    )
    ed = public_key_bytes(DEFAULT.generate_signing_key())
    sm2 = SM2PrivateKey.generate().public_key().encoded()

    refused = await admit_enrolment(national_hub, "DL.DL-01", ed, bytes(32), "10.0.0.9", now=NOW)
    assert refused is not None and refused.code == CloseCode.UNSUPPORTED_VERSION
    assert refused.detail == (
        "this hub uses the national cryptographic suite (SM2/SM3/SM4-GCM): initialise the "
        "terminal with `seat-agent init --suite national`"
    )
    refused = await admit_enrolment(default_hub, "DL.DL-01", sm2, sm2, "10.0.0.9", now=NOW)
    assert refused is not None and refused.detail == (
        "this hub uses the default cryptographic suite (Ed25519/SHA-256/AES-256-GCM): "
        "initialise the terminal with `seat-agent init --suite default`"
    )
    # The suite's own keys are admitted.
    assert await admit_enrolment(national_hub, "DL.DL-01", sm2, sm2, "10.0.0.9", now=NOW) is None
