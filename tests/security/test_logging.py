"""What the hub's logs never hold (issue 12, item 9): the value of a password, PIN, token, key,
secret or seed field, at any depth, and the local variables of a failing frame — even with
``rich`` installed, whose tracebacks structlog's console renderer shows with locals by
default (``rich`` is in the dev environment: schemathesis brings it)."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from contextlib import redirect_stderr
from typing import Any

import pytest
import structlog

from evaluation_hub.logging import REDACTED, configure_logging, is_secret, redact_secrets

SECRET_VALUE = "hunter2-Sup3rSecret"


@pytest.fixture
def restore_structlog() -> Iterator[None]:
    saved = structlog.get_config()
    try:
        yield
    finally:
        structlog.configure(**saved)


@pytest.mark.parametrize(
    "name",
    ["password", "new_password", "pin", "pin_mac", "token", "access_token", "token_secret",
     "hub_key", "sealing_key", "private_key", "page_key", "secret", "seed", "seed_hex",
     "Authorization", "cookie", "PASSWORD"],
)  # fmt: skip
def test_secret_field_names(name: str) -> None:
    assert is_secret(name)


@pytest.mark.parametrize(
    "name",
    ["seat_key", "public_key", "seat_public_key", "key_id", "idempotency_key", "seat_id",
     "username", "expert_code", "keyframes_received", "ping_interval", "seed_commitment",
     "session_id", "event"],
)  # fmt: skip
def test_public_field_names(name: str) -> None:
    assert not is_secret(name)


def test_the_processor_redacts_at_any_depth() -> None:
    event = {
        "event": "user.login",
        "username": "km_operator",
        "password": SECRET_VALUE,
        "payload": {"pin": "123456", "seat_key": "DL.DL-01", "nested": [{"token": "abc"}]},
        "tries": ({"secret": SECRET_VALUE},),
    }
    assert redact_secrets(None, "info", event) == {
        "event": "user.login",
        "username": "km_operator",
        "password": REDACTED,
        "payload": {"pin": REDACTED, "seat_key": "DL.DL-01", "nested": [{"token": REDACTED}]},
        "tries": ({"secret": REDACTED},),
    }


def _sign_in(password: str) -> None:
    token_secret = SECRET_VALUE + "-signing"
    raise RuntimeError(f"database unreachable while checking {len(password) + len(token_secret)}")


@pytest.mark.parametrize("as_json", [False, True])
def test_a_logged_failure_shows_no_secret_and_no_locals(
    restore_structlog: None, as_json: bool
) -> None:
    pytest.importorskip("rich")  # the case that leaked: rich installed (it is, in dev)
    out = io.StringIO()
    with redirect_stderr(out):
        configure_logging(json=as_json, level=logging.INFO)
        log = structlog.get_logger("test")
        try:
            _sign_in(SECRET_VALUE)
        except RuntimeError:
            log.exception("request.failed", password=SECRET_VALUE, username="km_operator")
    text = out.getvalue()
    assert "database unreachable while checking" in text  # the traceback is there
    assert "_sign_in" in text
    assert SECRET_VALUE not in text
    assert "km_operator" in text
    if as_json:
        line: dict[str, Any] = json.loads(text.strip().splitlines()[-1])
        assert line["password"] == REDACTED
    else:
        assert REDACTED in text
