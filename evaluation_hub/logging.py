"""structlog, configured once: console lines for people, JSON lines in production.

Request ids and state-change ids travel in contextvars so every line of one request carries them.

Logs leave the hub (files, collectors, a support ticket), so nothing secret is written to them:
:func:`redact_secrets` replaces the value of every field named for a password, PIN, token, key,
secret or seed, at any depth, before a line is rendered; and an exception's traceback is
rendered without its frames' local variables (structlog's console renderer shows them by
default when ``rich`` is installed, which would print a sign-in's password from the frame
that failed).
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Mapping
from typing import Any

import structlog

__all__ = ["REDACTED", "configure_logging", "exception_formatter", "is_secret", "redact_secrets"]

REDACTED = "[redacted]"

#: words that make a field secret wherever they stand in its name (``pin_mac``, ``hub_key``)
_SECRET_WORDS = frozenset(
    {"password", "passwd", "pin", "token", "secret", "key", "seed", "cookie", "authorization"}
)
#: names that contain such a word but name something public: a seat's address, a public key,
#: an id or a fingerprint of a key, a row's identity
_PUBLIC_NAMES = frozenset(
    {
        "seat_key",
        "seat_keys",
        "public_key",
        "seat_public_key",
        "key_id",
        "idempotency_key",
        "primary_key",
        "sort_keys",
        "seed_commitment",
    }
)
_WORD = re.compile(r"[a-z0-9]+")


def is_secret(name: str) -> bool:
    """Whether a field called ``name`` holds a secret (see the module's docstring)."""
    lowered = name.lower()
    if lowered in _PUBLIC_NAMES:
        return False
    return any(word in _SECRET_WORDS for word in _WORD.findall(lowered))


def _redact(value: Any, depth: int = 0) -> Any:
    if depth > 8:  # deep enough for any payload the hub logs; deeper is left as it is
        return value
    if isinstance(value, Mapping):
        return {
            k: REDACTED if isinstance(k, str) and is_secret(k) else _redact(v, depth + 1)
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return type(value)(_redact(v, depth + 1) for v in value)
    return value


def redact_secrets(
    logger: Any, method_name: str, event_dict: structlog.types.EventDict
) -> structlog.types.EventDict:
    """structlog processor: every secret field's value becomes ``[redacted]``."""
    return {
        name: REDACTED if is_secret(name) else _redact(value) for name, value in event_dict.items()
    }


def exception_formatter() -> structlog.typing.ExceptionRenderer:
    """Tracebacks without local variables: rich's when it is installed, plain otherwise."""
    try:
        import rich  # noqa: F401
    except ImportError:
        return structlog.dev.plain_traceback
    return structlog.dev.RichTracebackFormatter(show_locals=False)


def configure_logging(*, json: bool = False, level: int = logging.INFO) -> None:
    processors: list[structlog.types.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.StackInfoRenderer(),
        redact_secrets,
    ]
    if json:
        # format_exc_info renders the plain traceback: no frame's locals.
        processors += [structlog.processors.format_exc_info, structlog.processors.JSONRenderer()]
    else:
        processors.append(
            structlog.dev.ConsoleRenderer(
                colors=sys.stderr.isatty(), exception_formatter=exception_formatter()
            )
        )
    structlog.configure(
        processors=processors,
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=False,
    )
