"""Hygiene of every response (issue 12, item 9): security headers on pages, files, API answers,
refusals and 404s alike; a write signed in by the cookie must come from the hub's own pages;
the expert pool is for those who work with it."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from evaluation_hub.api.app import API_CSP, PAGE_CSP
from evaluation_hub.api.auth import COOKIE, PAGE_HEADER
from evaluation_hub.api.pages import STATIC
from tests.conftest import FakeClock
from tests.hub.helpers import problem
from tests.security.story import bearer

Client = TestClient[Any, Any]

COMMON = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(self), geolocation=()",
}


def _assert_headers(resp: Any, csp: str) -> None:
    for name, value in COMMON.items():
        assert resp.headers.get(name) == value, (resp.url, name)
    assert resp.headers.get("Content-Security-Policy") == csp, resp.url


@pytest.mark.parametrize(
    "path",
    ["/admin", "/host", "/supervision", "/wall", "/console", "/static/common.js", "/static/admin.css",
     "/static/missing.js", "/no-such-page"],
)  # fmt: skip
async def test_pages_and_files_carry_the_page_policy(client: Client, path: str) -> None:
    resp = await client.get(path, allow_redirects=False)
    _assert_headers(resp, PAGE_CSP)


async def test_the_page_policy_allows_no_inline_script_or_style_and_no_framing() -> None:
    directives = dict(d.strip().split(" ", 1) for d in PAGE_CSP.split(";"))
    assert directives["script-src"] == "'self'"
    assert directives["style-src"] == "'self'"
    assert directives["frame-ancestors"] == "'none'"
    assert "unsafe" not in PAGE_CSP


@pytest.mark.parametrize("page", sorted(p.name for p in STATIC.glob("*.html")))
def test_the_pages_hold_no_inline_script_or_style(page: str) -> None:
    """What the policy would refuse is not in the pages at all (every script and style is a
    static file of the hub)."""
    html = (STATIC / page).read_text(encoding="utf-8")
    for script in re.findall(r"<script\b[^>]*>(.*?)</script>", html, flags=re.S | re.I):
        assert script.strip() == "", page
    assert re.findall(r"<script\b(?![^>]*\bsrc=)[^>]*>", html, flags=re.I) == [], page
    assert "<style" not in html.lower(), page
    assert re.findall(r"\sstyle\s*=", html, flags=re.I) == [], page
    assert re.findall(r"\son[a-z]+\s*=", html, flags=re.I) == [], page
    assert "javascript:" not in html.lower(), page


async def test_api_answers_and_refusals_carry_the_api_policy(
    client: Client, seeded: dict[str, Any], clock: FakeClock
) -> None:
    headers = bearer(seeded, "km_operator", clock())
    for resp in (
        await client.get("/api/health"),
        await client.get("/api/openapi.json"),
        await client.get("/api/sessions", headers=headers),
        await client.get("/api/sessions"),  # 401
        await client.get("/api/sessions/999999", headers=headers),  # 404
        await client.put("/api/sessions", headers=headers),  # 405
        await client.post("/api/bookings", data=b"{", headers=headers),  # 422
    ):
        _assert_headers(resp, API_CSP)
    assert "sandbox" in API_CSP and "script-src" not in API_CSP
    assert "default-src 'none'" in API_CSP


async def _cookie(client: Client, username: str) -> None:
    resp = await client.post(
        "/api/auth/token", json={"username": username, "password": "demo-2026"}
    )
    assert resp.status == 200, await resp.text()
    assert COOKIE in {c.key for c in client.session.cookie_jar}


async def test_a_cookie_signed_write_needs_the_pages_header(
    client: Client, seeded: dict[str, Any]
) -> None:
    await _cookie(client, "dl_admin")
    url = f"/api/venues/{seeded['venues']['DL']}/seats"
    resp = await client.post(url, json={"label": "DL-90"})
    assert (await problem(resp, 403))["detail"] == (
        f"通过 Cookie 登录的修改请求必须带有 {PAGE_HEADER} 请求头（防止跨站请求伪造）；"
        "程序调用请使用 Authorization: Bearer 令牌"
    )
    resp = await client.post(url, json={"label": "DL-90"}, headers={PAGE_HEADER: "page"})
    assert resp.status == 201, await resp.text()
    # Reading needs no header: a cross-site page cannot read the answer anyway.
    resp = await client.get("/api/me")
    assert resp.status == 200


async def test_a_cookie_signed_write_from_another_origin_is_refused(
    client: Client, seeded: dict[str, Any]
) -> None:
    await _cookie(client, "dl_admin")
    url = f"/api/venues/{seeded['venues']['DL']}/seats"
    host = f"{client.server.host}:{client.server.port}"
    for origin in ("https://evil.example", f"http://{client.server.host}:1", "null"):
        resp = await client.post(
            url, json={"label": "DL-91"}, headers={PAGE_HEADER: "page", "Origin": origin}
        )
        assert (await problem(resp, 403))[
            "detail"
        ] == "请求来自其他网站，已拒绝（防止跨站请求伪造）"
    resp = await client.post(
        url, json={"label": "DL-91"}, headers={PAGE_HEADER: "page", "Origin": f"http://{host}"}
    )
    assert resp.status == 201, await resp.text()


async def test_bearer_clients_are_exempt(
    client: Client, seeded: dict[str, Any], clock: FakeClock
) -> None:
    resp = await client.post(
        f"/api/venues/{seeded['venues']['DL']}/seats",
        json={"label": "DL-92"},
        headers={**bearer(seeded, "dl_admin", clock()), "Origin": "https://elsewhere.example"},
    )
    assert resp.status == 201, await resp.text()


def test_the_pages_send_the_header_with_every_call() -> None:
    common = (STATIC / "common.js").read_text(encoding="utf-8")
    assert f'const PAGE_HEADERS = {{ "{PAGE_HEADER}": "page" }};' in common
    # Every call a page script makes itself (rather than through common.js's api) sends them.
    calls = 0
    for script in sorted(STATIC.glob("*.js")):
        text = script.read_text(encoding="utf-8")
        for found in re.finditer(r"\bfetch\(", text):
            calls += 1
            options = text[found.end() : found.end() + 400]
            assert re.search(r"headers:[^\n]*\.\.\.PAGE_HEADERS", options), (
                script.name,
                found.start(),
            )
    assert calls >= 1


@pytest.mark.parametrize(
    ("user", "refused_as"),
    [
        ("km_operator", None),
        ("sysadmin", None),
        ("km_supervisor", "监督人员"),
        ("dl_supervisor", "监督人员"),
        ("km_admin", "场地管理员"),
        ("dl_admin", "场地管理员"),
    ],
)
async def test_the_expert_pool_is_listed_only_to_those_who_form_committees(
    client: Client, seeded: dict[str, Any], clock: FakeClock, user: str, refused_as: str | None
) -> None:
    resp = await client.get("/api/experts", headers=bearer(seeded, user, clock()))
    if refused_as is None:
        assert resp.status == 200, await resp.text()
        assert len(await resp.json()) == 7
    else:
        assert (await problem(resp, 403))["detail"] == (
            f"只有主场业务人员或系统管理员可以查看专家库，当前用户 {user}（{refused_as}）无此权限"
        )


def test_no_page_names_a_script_outside_the_hub() -> None:
    for page in Path(STATIC).glob("*.html"):
        for src in re.findall(r'src="([^"]+)"', page.read_text(encoding="utf-8")):
            assert src.startswith("/static/"), (page.name, src)
