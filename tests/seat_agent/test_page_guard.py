"""Who may talk to the expert's page: the refusals of ``seat_agent.page.guard`` as a table, then
over real loopback (``serve``): a foreign ``Host`` (DNS rebinding), a foreign or missing
``Origin`` on writes, a missing or wrong per-start key, a non-loopback bind; the security
headers on every answer; and the page's static files (no inline script or style, no markup
made from strings in the script, all of them in the package data)."""

from __future__ import annotations

import tomllib
from collections.abc import AsyncIterator
from fnmatch import fnmatch
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from seat_agent.keys import init_state_dir
from seat_agent.outbox import ScoreDelivery, ScoreOutbox
from seat_agent.page.app import DESK, SECURITY_HEADERS, make_app, serve
from seat_agent.page.desk import ExpertDesk
from seat_agent.page.guard import (
    PageSetupError,
    Refusal,
    check_loopback,
    check_page_key,
    check_request,
    new_page_key,
    opening_url,
)
from tests.seat_agent.test_page_flow import page_headers

ROOT = Path(__file__).resolve().parents[2]
WEB = ROOT / "seat_agent" / "web"
KEY = "k" * 43
PORT = 8765

HOST_REFUSED = (
    "拒绝访问：「{host}」不是本机地址。专家页面只接受本机访问，"
    "请打开评标终端显示的地址（http://127.0.0.1:{port}/#k=…）"
)
ORIGIN_REFUSED = (
    "拒绝来自其他网页（{origin}）的请求：只有本终端的专家页面可以读取评审材料、提交签到、评分和签署"
)
ORIGIN_MISSING = "拒绝请求：既没有 Origin 也没有 X-Seat-Page 请求头。只有本终端的专家页面可以提交签到、评分和签署"
KEY_MISSING = "本页面没有评标终端的访问密钥：请打开评标终端启动时显示的完整地址（http://127.0.0.1:{port}/#k=…）"
KEY_WRONG = (
    "访问密钥不正确（评标终端可能已重新启动）：请重新打开评标终端本次启动时显示的完整地址"
    "（http://127.0.0.1:{port}/#k=…）"
)


def _check(
    method: str = "GET",
    path: str = "/api/state",
    host: str | None = f"127.0.0.1:{PORT}",
    origin: str | None = None,
    page: str | None = "1",
    key: str | None = KEY,
    bound: tuple[str, int] = ("127.0.0.1", PORT),
) -> Refusal | None:
    return check_request(
        method=method,
        path=path,
        host=host,
        origin=origin,
        page_header=page,
        key_header=key,
        bound=bound,
        key=KEY,
    )


def _refusal(status: int, code: str, template: str, **values: Any) -> Refusal:
    return Refusal(status, code, template.format(port=PORT, **values))


@pytest.mark.parametrize(
    ("request_", "expected"),
    [
        # what the page itself sends, by every loopback name
        ({}, None),
        ({"host": f"localhost:{PORT}"}, None),
        ({"host": f"LOCALHOST:{PORT}"}, None),
        ({"host": f"[::1]:{PORT}"}, None),
        ({"method": "POST", "origin": f"http://127.0.0.1:{PORT}", "page": None}, None),
        (
            {"method": "POST", "host": f"localhost:{PORT}", "origin": f"http://localhost:{PORT}"},
            None,
        ),
        ({"method": "POST", "origin": None, "page": "1"}, None),
        ({"host": "127.0.0.2:8765", "bound": ("127.0.0.2", PORT)}, None),
        ({"host": "[::1]:80", "bound": ("::1", 80)}, None),
        ({"host": "localhost", "bound": ("127.0.0.1", 80)}, None),
        # the page's files need no key; everything else does
        ({"path": "/", "key": None}, None),
        ({"path": "/expert.js", "key": None, "page": None}, None),
        ({"path": "/expert.css", "key": None}, None),
        # DNS rebinding: a foreign name, a foreign port, no Host at all
        (
            {"host": "evil.example:8765"},
            _refusal(421, "foreign-host", HOST_REFUSED, host="evil.example:8765"),
        ),
        (
            {"host": "127.0.0.1:9999", "path": "/"},
            _refusal(421, "foreign-host", HOST_REFUSED, host="127.0.0.1:9999"),
        ),
        ({"host": "localhost"}, _refusal(421, "foreign-host", HOST_REFUSED, host="localhost")),
        (
            {"host": "127.0.0.2:8765"},
            _refusal(421, "foreign-host", HOST_REFUSED, host="127.0.0.2:8765"),
        ),
        ({"host": None}, _refusal(421, "foreign-host", HOST_REFUSED, host="（空）")),
        (
            {"host": "x" * 200},
            _refusal(421, "foreign-host", HOST_REFUSED, host="x" * 80),
        ),
        # another web page in the same browser
        (
            {"method": "POST", "origin": "http://evil.example"},
            _refusal(403, "foreign-origin", ORIGIN_REFUSED, origin="http://evil.example"),
        ),
        (
            {"method": "POST", "origin": "null"},
            _refusal(403, "foreign-origin", ORIGIN_REFUSED, origin="null"),
        ),
        (
            {"method": "POST", "origin": f"http://127.0.0.1:{PORT + 1}"},
            _refusal(403, "foreign-origin", ORIGIN_REFUSED, origin=f"http://127.0.0.1:{PORT + 1}"),
        ),
        (
            {"method": "GET", "origin": "https://evil.example"},
            _refusal(403, "foreign-origin", ORIGIN_REFUSED, origin="https://evil.example"),
        ),
        ({"method": "POST", "page": None}, _refusal(403, "origin-required", ORIGIN_MISSING)),
        ({"method": "POST", "page": "0"}, _refusal(403, "origin-required", ORIGIN_MISSING)),
        ({"method": "DELETE", "page": None}, _refusal(403, "origin-required", ORIGIN_MISSING)),
        (
            {"method": "POST", "path": "/", "page": None, "key": None},
            _refusal(403, "origin-required", ORIGIN_MISSING),
        ),
        # the per-start key
        ({"key": None}, _refusal(401, "page-key-required", KEY_MISSING)),
        ({"key": ""}, _refusal(401, "page-key-required", KEY_MISSING)),
        ({"key": "k" * 42}, _refusal(401, "page-key-wrong", KEY_WRONG)),
        ({"key": "秘密"}, _refusal(401, "page-key-wrong", KEY_WRONG)),
        ({"key": "\udcff"}, _refusal(401, "page-key-wrong", KEY_WRONG)),
        ({"path": "/favicon.ico", "key": None}, _refusal(401, "page-key-required", KEY_MISSING)),
        ({"path": "/expert.js/", "key": None}, _refusal(401, "page-key-required", KEY_MISSING)),
    ],
)
def test_who_may_talk_to_the_page(request_: dict[str, Any], expected: Refusal | None) -> None:
    assert _check(**request_) == expected


def test_keys_addresses_and_loopback() -> None:
    key = new_page_key()
    assert len(key) == 43 and check_page_key(key) == key and new_page_key() != key
    assert opening_url("127.0.0.1", 8765, key) == f"http://127.0.0.1:8765/#k={key}"
    assert opening_url("::1", 8765, key) == f"http://[::1]:8765/#k={key}"
    for weak in ("", "short", "k" * 21, "k" * 129, "a+b/" * 8, "k" * 30 + "#"):
        with pytest.raises(PageSetupError) as refused:
            check_page_key(weak)
        assert str(refused.value) == (
            "SEAT_AGENT_PAGE_KEY 须为 22–128 个字符的 URL 安全 Base64 随机串（至少 128 位）"
        )
    for host in ("127.0.0.1", "127.9.9.9", "::1"):
        assert check_loopback(host) == host
    for host in ("0.0.0.0", "::", "192.168.1.20", "localhost", "example.org", ""):
        with pytest.raises(PageSetupError) as refused:
            check_loopback(host)
        assert str(refused.value) == (
            f"专家页面只能在本机回环地址上提供（127.0.0.1 或 ::1），拒绝在「{host}」上提供："
            "否则网络中的其他计算机也能访问评审材料"
        )


# --- over real loopback --------------------------------------------------------------------


@pytest.fixture
async def page(tmp_path: Path) -> AsyncIterator[tuple[str, str, web.Application]]:
    """The page served as the agent serves it, with no hub: its base address, key and app."""
    identity = init_state_dir(
        tmp_path / "seat", seat_id="QJ.QJ-01", hub_url="ws://127.0.0.1:9/ws/seat", hub_id="h"
    )
    outbox = await ScoreOutbox.open(tmp_path / "outbox.db")

    async def send(msg: Any) -> Any:
        return msg

    desk = ExpertDesk(identity, ScoreDelivery(outbox, None), send)  # type: ignore[arg-type]
    key = new_page_key()
    app = make_app(desk, page_key=key)
    runner = await serve(app, 0)
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}", key, app
    finally:
        await runner.cleanup()
        await outbox.close()


async def _answer(
    http: aiohttp.ClientSession, method: str, url: str, **kwargs: Any
) -> tuple[int, dict[str, str], Any]:
    async with http.request(method, url, **kwargs) as resp:
        text = await resp.text()
        body = await resp.json(content_type=None) if "json" in resp.content_type else text
        return resp.status, dict(resp.headers), body


async def test_refusals_over_loopback(page: tuple[str, str, web.Application]) -> None:
    base, key, _ = page
    port = int(base.rsplit(":", 1)[1])
    own = page_headers(key)
    values = {"part": "ch1", "values": {}}
    async with aiohttp.ClientSession() as http:
        # DNS rebinding: the browser sends the attacker's name, with the right port
        status, _, body = await _answer(
            http, "GET", f"{base}/api/state", headers={**own, "Host": f"rebind.example:{port}"}
        )
        assert (status, body["code"], body["detail"]) == (
            421,
            "foreign-host",
            HOST_REFUSED.format(host=f"rebind.example:{port}", port=port),
        )
        status, _, body = await _answer(
            http, "GET", f"{base}/", headers={"Host": f"rebind.example:{port}"}
        )
        assert status == 421 and body["code"] == "foreign-host"
        for name in ("localhost", "[::1]"):
            status, _, body = await _answer(
                http, "GET", f"{base}/api/state", headers={**own, "Host": f"{name}:{port}"}
            )
            assert status == 200 and body["seat"] == "QJ.QJ-01"
        # another web page posting to the agent: foreign Origin, or neither Origin nor header
        status, _, body = await _answer(
            http,
            "POST",
            f"{base}/api/validate",
            json=values,
            headers={"X-Seat-Key": key, "Origin": "http://evil.example"},
        )
        assert (status, body["code"], body["detail"]) == (
            403,
            "foreign-origin",
            ORIGIN_REFUSED.format(origin="http://evil.example"),
        )
        status, _, body = await _answer(
            http, "POST", f"{base}/api/validate", json=values, headers={"X-Seat-Key": key}
        )
        assert (status, body["code"], body["detail"]) == (403, "origin-required", ORIGIN_MISSING)
        # the page's own origin, with or without the header, passes on to the handler
        status, _, body = await _answer(
            http,
            "POST",
            f"{base}/api/validate",
            json=values,
            headers={"X-Seat-Key": key, "Origin": base},
        )
        assert (status, body["detail"]) == (422, "请先签到")
        status, _, body = await _answer(
            http, "POST", f"{base}/api/validate", json=values, headers=own
        )
        assert (status, body["detail"]) == (422, "请先签到")
        # the per-start key
        status, _, body = await _answer(
            http, "GET", f"{base}/api/state", headers={"X-Seat-Page": "1"}
        )
        assert (status, body["code"], body["detail"]) == (
            401,
            "page-key-required",
            KEY_MISSING.format(port=port),
        )
        status, _, body = await _answer(
            http, "POST", f"{base}/api/checkin", json={}, headers=page_headers(new_page_key())
        )
        assert (status, body["code"], body["detail"]) == (
            401,
            "page-key-wrong",
            KEY_WRONG.format(port=port),
        )
        status, _, body = await _answer(
            http, "GET", f"{base}/api/chapters/ch1-A", headers={"X-Seat-Key": key + "x"}
        )
        assert (status, body["code"]) == (401, "page-key-wrong")
        # a form post (what a foreign page can send without a preflight) changes nothing
        status, _, body = await _answer(
            http, "POST", f"{base}/api/checkin", data="session_id=1", headers=own
        )
        assert (status, body["code"]) == (415, "json-required")


async def test_every_answer_carries_the_security_headers(
    page: tuple[str, str, web.Application],
) -> None:
    base, key, _ = page
    own = page_headers(key)
    port = base.rsplit(":", 1)[1]
    asked = [
        ("GET", "/", {}, 200, "text/html"),
        ("HEAD", "/", {}, 200, "text/html"),
        ("GET", "/expert.js", {}, 200, "text/javascript"),
        ("GET", "/expert.css", {}, 200, "text/css"),
        ("GET", "/api/state", own, 200, "application/json"),
        ("GET", "/api/chapters", own, 200, "application/json"),
        ("GET", "/api/state", {}, 401, "application/problem+json"),
        ("GET", "/api/state", {**own, "Host": f"evil.example:{port}"}, 421, None),
        ("POST", "/api/scores", {"X-Seat-Key": key}, 403, "application/problem+json"),
        ("GET", "/api/nothing-here", own, 404, None),
        ("POST", "/expert.js", own, 415, "application/problem+json"),
        ("POST", "/api/state", {**own, "Content-Type": "application/json"}, 405, None),
    ]
    async with aiohttp.ClientSession() as http:
        for method, path, headers, status, content_type in asked:
            async with http.request(method, f"{base}{path}", headers=headers) as resp:
                assert resp.status == status, (method, path, await resp.text())
                for name, value in SECURITY_HEADERS.items():
                    assert resp.headers.get(name) == value, (method, path, name)
                if content_type is not None:
                    assert resp.content_type == content_type, (method, path)
                if content_type and content_type.startswith("text/"):
                    assert resp.charset == "utf-8"
    assert SECURITY_HEADERS["Content-Security-Policy"] == (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
    )


async def test_serve_binds_to_loopback_only(page: tuple[str, str, web.Application]) -> None:
    _, key, app = page
    for host in ("0.0.0.0", "::", "192.0.2.7", "localhost"):
        with pytest.raises(PageSetupError) as refused:
            await serve(app, 0, host)
        assert str(refused.value) == (
            f"专家页面只能在本机回环地址上提供（127.0.0.1 或 ::1），拒绝在「{host}」上提供："
            "否则网络中的其他计算机也能访问评审材料"
        )
    # Another loopback address is fine, and its own name is accepted as the Host.
    runner = await serve(make_app(app[DESK], page_key=key), 0, "127.0.0.2")
    try:
        port = runner.addresses[0][1]
        async with (
            aiohttp.ClientSession() as http,
            http.get(f"http://127.0.0.2:{port}/api/state", headers=page_headers(key)) as resp,
        ):
            assert resp.status == 200
    finally:
        await runner.cleanup()


# --- the page's files ----------------------------------------------------------------------


class _Markup(HTMLParser):
    """Every start tag with its attributes, and the text inside <script> and <style>."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.inline: list[str] = []
        self._inside: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        self._inside = tag if tag in ("script", "style") else None

    def handle_endtag(self, tag: str) -> None:
        self._inside = None

    def handle_data(self, data: str) -> None:
        if self._inside and data.strip():
            self.inline.append(f"<{self._inside}>{data.strip()[:40]}")


def test_the_page_has_no_inline_script_or_style() -> None:
    markup = _Markup()
    markup.feed((WEB / "expert.html").read_text(encoding="utf-8"))
    assert markup.inline == []
    assert [t for t, _ in markup.tags if t == "style"] == []
    handlers = [(t, a) for t, attrs in markup.tags for a in attrs if a.lower().startswith("on")]
    assert handlers == []
    assert [t for t, attrs in markup.tags if "style" in attrs] == []
    scripts = [attrs.get("src") for t, attrs in markup.tags if t == "script"]
    assert scripts == ["/expert.js"]
    sheets = [attrs.get("href") for t, attrs in markup.tags if attrs.get("rel") == "stylesheet"]
    assert sheets == ["/expert.css"]
    assert not any(
        (attrs.get("href") or attrs.get("src") or "").startswith("javascript:")
        for _, attrs in markup.tags
    )


def test_the_script_never_makes_markup_from_strings() -> None:
    script = (WEB / "expert.js").read_text(encoding="utf-8")
    for sink in (
        "innerHTML",
        "outerHTML",
        "insertAdjacentHTML",
        "document.write",
        "eval(",
        "Function(",
        "createContextualFragment",
        "DOMParser",
        ".style",
        "esc(",
    ):
        assert sink not in script, sink


def test_the_pages_files_are_package_data() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    patterns = config["tool"]["setuptools"]["package-data"]["seat_agent"]
    files = sorted(p.relative_to(WEB.parent).as_posix() for p in WEB.iterdir())
    assert files == ["web/expert.css", "web/expert.html", "web/expert.js"]
    assert all(any(fnmatch(f, p) for p in patterns) for f in files)
