"""Hub configuration: defaults for the embedded set-up, overridden by environment variables.

Configuration errors are raised when the hub starts, never at first use.
"""

from __future__ import annotations

import base64
import dataclasses
import os
import secrets
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from evaluation_hub import localtime
from evaluation_hub.errors import ConfigError
from evaluation_hub.regulation import Regulation
from evaluation_hub.secretfile import read_or_create

__all__ = ["HubConfig"]

DEFAULT_STATE_DIR = Path("var")


@dataclass(frozen=True)
class HubConfig:
    """Everything the hub needs to start. ``from_env`` reads ``EVALHUB_*`` variables."""

    database_url: str = f"sqlite+aiosqlite:///{DEFAULT_STATE_DIR / 'hub.db'}"
    redis_url: str | None = None  # None: the in-process bus (embedded default)
    host: str = "127.0.0.1"
    port: int = 8440
    # Named in the seat protocol's challenge; seat terminals are set up with the same id.
    hub_id: str = "evaluation-hub"
    # Signs session tokens; a fresh one per start would log everybody out, so set it in production.
    token_secret: str = field(default_factory=lambda: secrets.token_urlsafe(32), repr=False)
    token_ttl: timedelta = timedelta(hours=8)
    expiry_sweep_interval_s: float = 30.0
    max_body_bytes: int = 64 * 1024
    json_logs: bool = False
    # Local time of every page, message and working-day count (evaluation_hub.localtime).
    timezone: str = localtime.DEFAULT_ZONE
    # Seals draw and shuffle seeds; from EVALHUB_SEALING_KEY, else this file (never the database).
    sealing_key: str | None = field(default=None, repr=False)
    sealing_key_file: Path = DEFAULT_STATE_DIR / "sealing.key"
    # Signs audit checkpoints; the public half is written beside it for `audit verify`.
    hub_key_file: Path = DEFAULT_STATE_DIR / "hub-key.pem"
    checkpoint_every_events: int = 100
    checkpoint_every: timedelta = timedelta(minutes=10)
    checkpoint_poll_s: float = 30.0
    # Every regulatory number (committee, outage clocks, deviation share, working-day deadlines,
    # check-in, booking expiry), national defaults unless the deployment sets its own.
    regulation: Regulation = field(default_factory=Regulation)
    # Seats' live media recorded as WebM segments (evaluation_hub.live.recording), each hashed
    # into the audit chain. No retention (None) keeps every segment: deleting is a choice.
    recordings_enabled: bool = True
    recordings_dir: Path = DEFAULT_STATE_DIR / "recordings"
    recording_segment_s: float = 10.0
    recording_retention: timedelta | None = None
    recording_prune_interval_s: float = 3600.0

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None, **overrides: object) -> HubConfig:
        env = dict(os.environ if env is None else env)
        values: dict[str, object] = {}
        if "EVALHUB_DATABASE_URL" in env:
            values["database_url"] = env["EVALHUB_DATABASE_URL"]
        if env.get("EVALHUB_REDIS_URL"):
            values["redis_url"] = env["EVALHUB_REDIS_URL"]
        if "EVALHUB_TOKEN_SECRET" in env:
            if len(env["EVALHUB_TOKEN_SECRET"]) < 32:
                raise ConfigError("EVALHUB_TOKEN_SECRET must be at least 32 characters long")
            values["token_secret"] = env["EVALHUB_TOKEN_SECRET"]
        else:
            # Hub processes sharing a state directory must share the secret, or a token issued
            # by one is refused by another.
            secret = read_or_create(DEFAULT_STATE_DIR / "token.secret")
            values["token_secret"] = base64.urlsafe_b64encode(secret).decode()
        if env.get("EVALHUB_HUB_ID"):
            values["hub_id"] = env["EVALHUB_HUB_ID"]
        if env.get("EVALHUB_SEALING_KEY"):
            values["sealing_key"] = env["EVALHUB_SEALING_KEY"]
        if env.get("EVALHUB_HUB_KEY_FILE"):
            values["hub_key_file"] = Path(env["EVALHUB_HUB_KEY_FILE"])
        if env.get("EVALHUB_SEALING_KEY_FILE"):
            values["sealing_key_file"] = Path(env["EVALHUB_SEALING_KEY_FILE"])
        for name, key in (("port", "EVALHUB_PORT"),):
            if key in env:
                try:
                    values[name] = int(env[key])
                except ValueError as exc:
                    raise ConfigError(f"{key} must be an integer, got {env[key]!r}") from exc
        if "EVALHUB_BOOKING_TTL_MINUTES" in env:
            try:
                minutes = int(env["EVALHUB_BOOKING_TTL_MINUTES"])
            except ValueError as exc:
                raise ConfigError("EVALHUB_BOOKING_TTL_MINUTES must be an integer") from exc
            values["regulation"] = dataclasses.replace(
                Regulation(), booking_request_ttl=timedelta(minutes=minutes)
            )
        if env.get("EVALHUB_TIMEZONE"):
            values["timezone"] = env["EVALHUB_TIMEZONE"]
        values.update(_recording_settings(env))
        if env.get("EVALHUB_LOG_FORMAT") == "json":
            values["json_logs"] = True
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)  # type: ignore[arg-type]


def _recording_settings(env: dict[str, str]) -> dict[str, object]:
    """EVALHUB_RECORDINGS (on/off), EVALHUB_RECORDINGS_DIR, EVALHUB_RECORDING_SEGMENT_SECONDS,
    EVALHUB_RECORDING_RETENTION_DAYS, EVALHUB_RECORDING_PRUNE_SECONDS."""
    values: dict[str, object] = {}
    switch = env.get("EVALHUB_RECORDINGS", "").strip().lower()
    if switch:
        if switch not in ("on", "off", "1", "0", "true", "false"):
            raise ConfigError(
                f"EVALHUB_RECORDINGS must be on or off, got {env['EVALHUB_RECORDINGS']!r}"
            )
        values["recordings_enabled"] = switch in ("on", "1", "true")
    if env.get("EVALHUB_RECORDINGS_DIR"):
        values["recordings_dir"] = Path(env["EVALHUB_RECORDINGS_DIR"])
    for name, key, upper in (
        ("recording_segment_s", "EVALHUB_RECORDING_SEGMENT_SECONDS", 3600.0),
        ("recording_retention", "EVALHUB_RECORDING_RETENTION_DAYS", None),
        ("recording_prune_interval_s", "EVALHUB_RECORDING_PRUNE_SECONDS", None),
    ):
        if not env.get(key):
            continue
        try:
            number = float(env[key])
        except ValueError as exc:
            raise ConfigError(f"{key} must be a number, got {env[key]!r}") from exc
        if not number > 0 or (upper is not None and number > upper):
            limit = "" if upper is None else f" and at most {upper:g}"
            raise ConfigError(f"{key} must be above 0{limit}, got {env[key]!r}")
        values[name] = timedelta(days=number) if name == "recording_retention" else number
    return values
