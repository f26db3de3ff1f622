"""The hub over HTTPS: HSTS on every response and a ``Secure`` sign-in cookie; neither over
plain HTTP (the loopback demo), both behind a trusted TLS proxy that says so. And the real
``evaluation-hub serve --tls-cert --tls-key`` process serving HTTPS, with ``tls-pin`` printing
the pin its log line names."""

from __future__ import annotations

import os
import ssl
import subprocess
import sys
import time
import urllib.request
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from evaluation_hub.api.app import create_app
from evaluation_hub.api.transport import HSTS
from evaluation_hub.config import HubConfig
from evaluation_hub.db.engine import Database
from seat_protocol.auth import format_pin
from tests.conftest import FakeClock
from tests.security_transport.certs import HubCertificate, make_certificate
from tests.support.postgres_server import free_port


def _config(database: Database, tmp_path: Path, **extra: Any) -> HubConfig:
    return HubConfig(
        database_url=database.url,
        token_secret="t" * 40,
        sealing_key_file=tmp_path / "sealing.key",
        hub_key_file=tmp_path / "hub-key.pem",
        recordings_enabled=False,
        **extra,
    )


@pytest.fixture
def certificate(tmp_path: Path) -> HubCertificate:
    return make_certificate(tmp_path / "certs")


@pytest.fixture
async def https_hub(
    database: Database,
    seeded: dict[str, Any],
    clock: FakeClock,
    tmp_path: Path,
    certificate: HubCertificate,
) -> AsyncIterator[str]:
    config = _config(database, tmp_path, tls_cert=certificate.cert, tls_key=certificate.key)
    app = create_app(config, db=database, clock=clock, sweep=False)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(certificate.cert, certificate.key)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server(ssl=context)
    yield f"https://127.0.0.1:{server.port}"
    await server.close()


def _client(certificate: HubCertificate) -> aiohttp.ClientSession:
    trust = ssl.create_default_context(cafile=str(certificate.cert))
    return aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=trust))


async def test_over_https_every_response_has_hsts_and_the_cookie_is_secure(
    https_hub: str, certificate: HubCertificate, seeded: dict[str, Any]
) -> None:
    async with _client(certificate) as http:
        for path in ("/api/health", "/admin", "/static/common.js", "/api/bookings", "/nowhere"):
            async with http.get(https_hub + path) as resp:
                assert resp.headers.get("Strict-Transport-Security") == HSTS, path
        async with http.post(
            https_hub + "/api/auth/token",
            json={"username": "dl_admin", "password": seeded["password"]},
        ) as resp:
            assert resp.status == 200
            assert resp.headers["Strict-Transport-Security"] == HSTS
            cookie = resp.cookies["evalhub_token"]
            assert cookie["secure"] is True
            assert cookie["httponly"] is True
            assert cookie["samesite"] == "Strict"
        async with http.post(https_hub + "/api/auth/logout") as resp:
            assert resp.status == 204
            assert resp.cookies["evalhub_token"]["secure"] is True


async def test_over_plain_http_no_hsts_and_no_secure_flag_unless_a_trusted_proxy_says_https(
    database: Database, seeded: dict[str, Any], clock: FakeClock, tmp_path: Path
) -> None:
    config = _config(database, tmp_path, trusted_proxies=("127.0.0.1",))
    app = create_app(config, db=database, clock=clock, sweep=False)
    body = {"username": "dl_admin", "password": seeded["password"]}
    async with TestServer(app, host="127.0.0.1") as server, aiohttp.ClientSession() as http:
        base = f"http://127.0.0.1:{server.port}"
        async with http.post(base + "/api/auth/token", json=body) as resp:
            assert resp.status == 200
            assert "Strict-Transport-Security" not in resp.headers
            assert not resp.cookies["evalhub_token"]["secure"]
        # TLS ends at the reverse proxy, which says so: the client is on HTTPS.
        forwarded = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.5"}
        async with http.post(base + "/api/auth/token", json=body, headers=forwarded) as resp:
            assert resp.status == 200
            assert resp.headers["Strict-Transport-Security"] == HSTS
            assert resp.cookies["evalhub_token"]["secure"] is True
    # From a peer that is not a trusted proxy, the header is not believed.
    untrusted = _config(database, tmp_path, trusted_proxies=("10.0.0.1",))
    app = create_app(untrusted, db=database, clock=clock, sweep=False)
    async with TestServer(app, host="127.0.0.1") as server, aiohttp.ClientSession() as http:
        url = f"http://127.0.0.1:{server.port}/api/health"
        async with http.get(url, headers={"X-Forwarded-Proto": "https"}) as resp:
            assert "Strict-Transport-Security" not in resp.headers


def test_serve_with_tls_cert_and_key(tmp_path: Path, certificate: HubCertificate) -> None:
    hub = [sys.executable, "-m", "evaluation_hub.cli"]
    state = tmp_path / "state"
    env = {**os.environ, "EVALHUB_RECORDINGS": "off"}
    for inherited in ("EVALHUB_DATABASE_URL", "EVALHUB_TOKEN_SECRET", "EVALHUB_STATE_DIR"):
        env.pop(inherited, None)
    upgrade = subprocess.run(
        [*hub, "db", "upgrade", "--state-dir", str(state)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert upgrade.returncode == 0, upgrade.stderr
    pin = subprocess.run(
        [*hub, "tls-pin", str(certificate.cert)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    assert pin == f"{certificate.pin}\n{format_pin(certificate.pin)}\n"

    port = free_port()
    serve = subprocess.Popen(
        [
            *hub,
            "serve",
            "--state-dir",
            str(state),
            "--port",
            str(port),
            "--tls-cert",
            str(certificate.cert),
            "--tls-key",
            str(certificate.key),
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        trust = ssl.create_default_context(cafile=str(certificate.cert))
        answer = None
        for _ in range(600):
            try:
                with urllib.request.urlopen(
                    f"https://127.0.0.1:{port}/api/health", context=trust, timeout=5
                ) as resp:
                    answer = (resp.status, resp.headers["Strict-Transport-Security"])
                    break
            except OSError:
                if serve.poll() is not None:
                    break
                time.sleep(0.1)
        assert answer == (200, HSTS), serve.stderr.read() if serve.poll() is not None else ""
    finally:
        serve.terminate()
        _, err = serve.communicate(timeout=60)
    assert f"spki_sha256={certificate.pin}" in err
    # The hub's files are its user's alone, all under the state directory.
    assert {p.name for p in state.iterdir()} >= {"hub.db", "token.secret", "sealing.key"}
    for path in [state, *state.iterdir()]:
        if path.name.endswith(".pub"):
            continue
        assert path.stat().st_mode & 0o077 == 0, (path, oct(path.stat().st_mode))

    # Half a TLS setting is refused at start-up, naming both settings.
    half = subprocess.run(
        [*hub, "serve", "--state-dir", str(state), "--tls-cert", str(certificate.cert)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert (half.returncode, half.stderr) == (
        2,
        "evaluation-hub: TLS needs both a certificate and its key: set --tls-cert and "
        "--tls-key (EVALHUB_TLS_CERT and EVALHUB_TLS_KEY) together\n",
    )
