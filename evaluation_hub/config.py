"""Hub configuration: defaults for the embedded set-up, overridden by environment variables.

Configuration errors are raised when the hub starts, never at first use.

Everything the hub writes lives under one state directory (``--state-dir`` or
``EVALHUB_STATE_DIR``, default ``var``): the SQLite database, the token secret, the sealing
key, the audit signing key and the recordings, each unless its own setting names another
place. ``from_env`` derives those paths from the state directory it is given; the dataclass's
own defaults (``var/...``) are for code that builds a configuration by hand.
"""

from __future__ import annotations

import base64
import dataclasses
import ipaddress
import os
import secrets
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from evaluation_hub import localtime
from evaluation_hub.errors import ConfigError
from evaluation_hub.regulation import Regulation
from evaluation_hub.regulation_file import load_regulation
from evaluation_hub.secretfile import read_or_create
from evaluation_hub.supervision.holiday_tables import DEFAULT_HOLIDAYS_DIR, load_holiday_tables
from evaluation_hub.supervision.workdays import HolidayTable
from evaluation_hub.throttling import EnrolmentPolicy, Limit, SigninPolicy
from seat_protocol.suites import Suite, UnknownSuite, suite_named

__all__ = ["HubConfig"]

DEFAULT_STATE_DIR = Path("var")
MEDIA_BACKENDS = ("builtin", "janus")


@dataclass(frozen=True)
class HubConfig:
    """Everything the hub needs to start. ``from_env`` reads ``EVALHUB_*`` variables."""

    # Where the hub keeps its files (0700); see the module docstring.
    state_dir: Path = DEFAULT_STATE_DIR
    database_url: str = f"sqlite+aiosqlite:///{DEFAULT_STATE_DIR / 'hub.db'}"
    redis_url: str | None = None  # None: the in-process bus (embedded default)
    host: str = "127.0.0.1"
    port: int = 8440
    # Named in the seat protocol's challenge; seat terminals are set up with the same id.
    hub_id: str = "evaluation-hub"
    # Signs session tokens; a fresh one per start would log everybody out, so set it in production.
    token_secret: str = field(default_factory=lambda: secrets.token_urlsafe(32), repr=False)
    token_ttl: timedelta = timedelta(hours=8)
    # No token is honoured longer than this after it was issued, whatever its ``exp`` says.
    token_max_lifetime: timedelta = timedelta(hours=12)
    # HTTPS and WSS: the certificate chain and its private key (PEM), both or neither.
    tls_cert: Path | None = None
    tls_key: Path | None = None
    # Reverse proxies whose X-Forwarded-For / X-Forwarded-Proto are believed (addresses or
    # networks); a request from anywhere else is judged by its own peer address.
    trusted_proxies: tuple[str, ...] = ()
    signin: SigninPolicy = field(default_factory=SigninPolicy)
    enrolment: EnrolmentPolicy = field(default_factory=EnrolmentPolicy)
    expiry_sweep_interval_s: float = 30.0
    # The time rules that act on their own (开评分离 cut-off, outage limits; timers.session_rules),
    # on the sweep's interval. EVALHUB_SESSION_TIMERS=off stops them: for test processes on the
    # wall clock, whose sessions must not be paused by the evening cut-off of the day they run.
    session_timers: bool = True
    max_body_bytes: int = 64 * 1024
    #: an uploaded bid package (zip or tar) as received; unpacked it may be larger
    #: (evaluation_hub.bids.unpack.UnpackLimits)
    max_package_upload_bytes: int = 256 * 1024 * 1024
    json_logs: bool = False
    # Local time of every page, message and working-day count (evaluation_hub.localtime).
    timezone: str = localtime.DEFAULT_ZONE
    # Seals draw and shuffle seeds; from EVALHUB_SEALING_KEY, else this file (never the database).
    sealing_key: str | None = field(default=None, repr=False)
    sealing_key_file: Path = DEFAULT_STATE_DIR / "sealing.key"
    # Signs audit checkpoints; the public half is written beside it for `audit verify`.
    hub_key_file: Path = DEFAULT_STATE_DIR / "hub-key.pem"
    # The cryptographic suite (seat_protocol.suites): "default" (Ed25519, SHA-256, AES-GCM) or
    # "national" (SM2, SM3, SM4-GCM, for a commercial-cryptography assessment, 密评). Fixed for a
    # database once its audit chain has begun (EVALHUB_CRYPTO_SUITE).
    crypto_suite: str = "default"
    checkpoint_every_events: int = 100
    checkpoint_every: timedelta = timedelta(minutes=10)
    checkpoint_poll_s: float = 30.0
    # On SIGTERM: how long the hub waits for requests and seat saves in flight before it cancels
    # them and exits (EVALHUB_SHUTDOWN_SECONDS).
    shutdown_timeout_s: float = 10.0
    # Every regulatory number (committee, outage clocks, deviation share, working-day deadlines,
    # check-in, booking expiry), national defaults unless the deployment sets its own.
    regulation: Regulation = field(default_factory=Regulation)
    # The deployment's own regulation file (EVALHUB_REGULATION_FILE), read over
    # configs/regulation.yaml; named in the start-up log.
    regulation_file: Path | None = None
    # Official holiday tables for years the calendar package does not cover yet
    # (configs/holidays/YYYY.yaml, or EVALHUB_HOLIDAYS_DIR), installed by the app at start-up.
    holidays: tuple[HolidayTable, ...] = ()
    # Seats' live media recorded as WebM segments (evaluation_hub.live.recording), each hashed
    # into the audit chain. No retention (None) keeps every segment: deleting is a choice.
    recordings_enabled: bool = True
    recordings_dir: Path = DEFAULT_STATE_DIR / "recordings"
    recording_segment_s: float = 10.0
    recording_retention: timedelta | None = None
    recording_prune_interval_s: float = 3600.0
    # After the recordings disk filled up, recording resumes once this much is free again.
    recording_resume_free_mb: float = 64.0
    # /metrics answers these addresses (networks), or a request with this bearer token, and
    # nobody else (404). Default: the hub's own host only.
    metrics_allow: tuple[str, ...] = ("127.0.0.1/32", "::1/128")
    metrics_token: str | None = field(default=None, repr=False)
    # The live media plane: "builtin" (the hub forwards seats' media itself, the embedded
    # default) or "janus" (Janus VideoRoom instances the hub controls: evaluation_hub.live.
    # janus_plane). A session's room is on one of janus_urls, chosen by its id.
    media_backend: str = "builtin"
    janus_urls: tuple[str, ...] = ()
    # Janus's api_secret (every request) and VideoRoom's admin_key (creating rooms): only the
    # hub holds them; seats and browsers never see them.
    janus_api_secret: str | None = field(default=None, repr=False)
    janus_admin_key: str | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        try:
            suite_named(self.crypto_suite)
        except UnknownSuite as exc:
            raise ConfigError(f"EVALHUB_CRYPTO_SUITE: {exc}") from None
        if (self.tls_cert is None) != (self.tls_key is None):
            raise ConfigError(
                "TLS needs both a certificate and its key: set --tls-cert and --tls-key "
                "(EVALHUB_TLS_CERT and EVALHUB_TLS_KEY) together"
            )
        if self.token_max_lifetime < self.token_ttl:
            raise ConfigError(
                f"the token lifetime limit ({self.token_max_lifetime}) is shorter than the "
                f"lifetime tokens are issued with ({self.token_ttl})"
            )
        for network in self.metrics_allow:
            try:
                ipaddress.ip_network(network, strict=False)
            except ValueError as exc:
                raise ConfigError(
                    f"EVALHUB_METRICS_ALLOW: {network!r} is not an address or network"
                ) from exc
        if self.metrics_token is not None and len(self.metrics_token) < 32:
            raise ConfigError("EVALHUB_METRICS_TOKEN must be at least 32 characters long")
        if self.media_backend not in MEDIA_BACKENDS:
            raise ConfigError(
                f"EVALHUB_MEDIA_BACKEND must be builtin or janus, got {self.media_backend!r}"
            )
        if self.media_backend == "janus" and not self.janus_urls:
            raise ConfigError(
                "the janus media backend needs its instances' HTTP API URLs: set "
                "EVALHUB_JANUS_URLS (comma-separated, e.g. http://127.0.0.1:8088/janus)"
            )
        for url in self.janus_urls:
            if not url.startswith(("http://", "https://")):
                raise ConfigError(f"EVALHUB_JANUS_URLS: {url!r} is not an http(s) URL")
        for proxy in self.trusted_proxies:
            try:
                ipaddress.ip_network(proxy, strict=False)
            except ValueError as exc:
                raise ConfigError(
                    f"EVALHUB_TRUSTED_PROXIES: {proxy!r} is not an address or network"
                ) from exc

    @property
    def suite(self) -> Suite:
        return suite_named(self.crypto_suite)

    @property
    def tls(self) -> bool:
        """Whether the hub serves HTTPS and WSS itself."""
        return self.tls_cert is not None

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None, **overrides: object) -> HubConfig:
        env = dict(os.environ if env is None else env)
        values: dict[str, object] = {}
        state_dir = overrides.pop("state_dir", None) or env.get("EVALHUB_STATE_DIR")
        state = Path(str(state_dir)) if state_dir else DEFAULT_STATE_DIR
        values.update(
            state_dir=state,
            database_url=f"sqlite+aiosqlite:///{state / 'hub.db'}",
            sealing_key_file=state / "sealing.key",
            hub_key_file=state / "hub-key.pem",
            recordings_dir=state / "recordings",
        )
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
            secret = read_or_create(state / "token.secret")
            values["token_secret"] = base64.urlsafe_b64encode(secret).decode()
        if env.get("EVALHUB_HUB_ID"):
            values["hub_id"] = env["EVALHUB_HUB_ID"]
        if env.get("EVALHUB_SEALING_KEY"):
            values["sealing_key"] = env["EVALHUB_SEALING_KEY"]
        if env.get("EVALHUB_HUB_KEY_FILE"):
            values["hub_key_file"] = Path(env["EVALHUB_HUB_KEY_FILE"])
        if env.get("EVALHUB_CRYPTO_SUITE"):
            values["crypto_suite"] = env["EVALHUB_CRYPTO_SUITE"].strip().lower()
        if env.get("EVALHUB_SEALING_KEY_FILE"):
            values["sealing_key_file"] = Path(env["EVALHUB_SEALING_KEY_FILE"])
        for name, key in (("port", "EVALHUB_PORT"),):
            if key in env:
                try:
                    values[name] = int(env[key])
                except ValueError as exc:
                    raise ConfigError(f"{key} must be an integer, got {env[key]!r}") from exc
        regulation_file = (
            Path(env["EVALHUB_REGULATION_FILE"]) if env.get("EVALHUB_REGULATION_FILE") else None
        )
        regulation = load_regulation(regulation_file)
        values["regulation_file"] = regulation_file
        if "EVALHUB_BOOKING_TTL_MINUTES" in env:
            try:
                minutes = int(env["EVALHUB_BOOKING_TTL_MINUTES"])
            except ValueError as exc:
                raise ConfigError("EVALHUB_BOOKING_TTL_MINUTES must be an integer") from exc
            regulation = dataclasses.replace(
                regulation, booking_request_ttl=timedelta(minutes=minutes)
            )
        values["regulation"] = regulation
        holidays_dir = env.get("EVALHUB_HOLIDAYS_DIR")
        values["holidays"] = load_holiday_tables(
            Path(holidays_dir) if holidays_dir else DEFAULT_HOLIDAYS_DIR
        )
        timers = env.get("EVALHUB_SESSION_TIMERS", "").strip().lower()
        if timers:
            if timers not in ("on", "off"):
                raise ConfigError(
                    f"EVALHUB_SESSION_TIMERS must be on or off, got {env['EVALHUB_SESSION_TIMERS']!r}"
                )
            values["session_timers"] = timers == "on"
        if env.get("EVALHUB_TIMEZONE"):
            values["timezone"] = env["EVALHUB_TIMEZONE"]
        shutdown = _number(env, "EVALHUB_SHUTDOWN_SECONDS")
        if shutdown is not None:
            values["shutdown_timeout_s"] = shutdown
        values.update(_recording_settings(env))
        values.update(_media_settings(env))
        values.update(_security_settings(env))
        if env.get("EVALHUB_LOG_FORMAT") == "json":
            values["json_logs"] = True
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)  # type: ignore[arg-type]


def _recording_settings(env: dict[str, str]) -> dict[str, object]:
    """EVALHUB_RECORDINGS (on/off), EVALHUB_RECORDINGS_DIR, EVALHUB_RECORDING_SEGMENT_SECONDS,
    EVALHUB_RECORDING_RETENTION_DAYS, EVALHUB_RECORDING_PRUNE_SECONDS,
    EVALHUB_RECORDING_RESUME_FREE_MB."""
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
        ("recording_resume_free_mb", "EVALHUB_RECORDING_RESUME_FREE_MB", None),
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


def _media_settings(env: dict[str, str]) -> dict[str, object]:
    """EVALHUB_MEDIA_BACKEND (builtin/janus), EVALHUB_JANUS_URLS (comma-separated),
    EVALHUB_JANUS_API_SECRET, EVALHUB_JANUS_ADMIN_KEY."""
    values: dict[str, object] = {}
    if env.get("EVALHUB_MEDIA_BACKEND"):
        values["media_backend"] = env["EVALHUB_MEDIA_BACKEND"].strip().lower()
    if env.get("EVALHUB_JANUS_URLS"):
        values["janus_urls"] = tuple(
            u.strip() for u in env["EVALHUB_JANUS_URLS"].split(",") if u.strip()
        )
    if env.get("EVALHUB_JANUS_API_SECRET"):
        values["janus_api_secret"] = env["EVALHUB_JANUS_API_SECRET"]
    if env.get("EVALHUB_JANUS_ADMIN_KEY"):
        values["janus_admin_key"] = env["EVALHUB_JANUS_ADMIN_KEY"]
    return values


def _number(env: dict[str, str], key: str) -> float | None:
    if not env.get(key):
        return None
    try:
        number = float(env[key])
    except ValueError as exc:
        raise ConfigError(f"{key} must be a number, got {env[key]!r}") from exc
    if not number > 0:
        raise ConfigError(f"{key} must be above 0, got {env[key]!r}")
    return number


def _limit(env: dict[str, str], prefix: str, default: Limit) -> Limit:
    """``<prefix>_ATTEMPTS``, ``<prefix>_WINDOW_MINUTES``, ``<prefix>_LOCKOUT_MINUTES``."""
    attempts = _number(env, f"{prefix}_ATTEMPTS")
    if attempts is not None and attempts != int(attempts):
        raise ConfigError(
            f"{prefix}_ATTEMPTS must be a whole number, got {env[prefix + '_ATTEMPTS']!r}"
        )
    window = _number(env, f"{prefix}_WINDOW_MINUTES")
    lockout = _number(env, f"{prefix}_LOCKOUT_MINUTES")
    return Limit(
        default.attempts if attempts is None else int(attempts),
        default.window if window is None else timedelta(minutes=window),
        default.lockout if lockout is None else timedelta(minutes=lockout),
    )


def _security_settings(env: dict[str, str]) -> dict[str, object]:
    """TLS (EVALHUB_TLS_CERT, EVALHUB_TLS_KEY), EVALHUB_TRUSTED_PROXIES (comma-separated),
    EVALHUB_METRICS_ALLOW (comma-separated addresses or networks) and EVALHUB_METRICS_TOKEN,
    EVALHUB_TOKEN_MAX_LIFETIME_HOURS, and the throttling limits: EVALHUB_SIGNIN_USER_ADDRESS_*,
    EVALHUB_SIGNIN_ADDRESS_*, EVALHUB_SIGNIN_USER_*, EVALHUB_ENROLMENT_ADDRESS_*,
    EVALHUB_ENROLMENT_SEAT_* (each ``_ATTEMPTS``, ``_WINDOW_MINUTES``, ``_LOCKOUT_MINUTES``),
    EVALHUB_SIGNIN_HASH_WORKERS and EVALHUB_SIGNIN_MAX_WAITING (the password-check threads)."""
    values: dict[str, object] = {}
    if env.get("EVALHUB_TLS_CERT"):
        values["tls_cert"] = Path(env["EVALHUB_TLS_CERT"])
    if env.get("EVALHUB_TLS_KEY"):
        values["tls_key"] = Path(env["EVALHUB_TLS_KEY"])
    if env.get("EVALHUB_TRUSTED_PROXIES"):
        values["trusted_proxies"] = tuple(
            p.strip() for p in env["EVALHUB_TRUSTED_PROXIES"].split(",") if p.strip()
        )
    if "EVALHUB_METRICS_ALLOW" in env:
        # Empty: no address is trusted by itself (only the token opens /metrics).
        values["metrics_allow"] = tuple(
            p.strip() for p in env["EVALHUB_METRICS_ALLOW"].split(",") if p.strip()
        )
    if env.get("EVALHUB_METRICS_TOKEN"):
        values["metrics_token"] = env["EVALHUB_METRICS_TOKEN"]
    hours = _number(env, "EVALHUB_TOKEN_MAX_LIFETIME_HOURS")
    if hours is not None:
        values["token_max_lifetime"] = timedelta(hours=hours)
    signin, enrolment = SigninPolicy(), EnrolmentPolicy()
    counts = {}
    for name, key in (
        ("hash_workers", "EVALHUB_SIGNIN_HASH_WORKERS"),
        ("max_waiting", "EVALHUB_SIGNIN_MAX_WAITING"),
    ):
        number = _number(env, key)
        if number is not None:
            if number != int(number):
                raise ConfigError(f"{key} must be a whole number, got {env[key]!r}")
            counts[name] = int(number)
    values["signin"] = dataclasses.replace(
        signin,
        per_user_address=_limit(env, "EVALHUB_SIGNIN_USER_ADDRESS", signin.per_user_address),
        per_address=_limit(env, "EVALHUB_SIGNIN_ADDRESS", signin.per_address),
        per_user=_limit(env, "EVALHUB_SIGNIN_USER", signin.per_user),
        **counts,
    )
    values["enrolment"] = EnrolmentPolicy(
        per_address=_limit(env, "EVALHUB_ENROLMENT_ADDRESS", enrolment.per_address),
        per_seat=_limit(env, "EVALHUB_ENROLMENT_SEAT", enrolment.per_seat),
    )
    return values
