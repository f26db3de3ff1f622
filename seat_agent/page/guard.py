"""Who may talk to the expert's page (本机专家页面的访问控制): the checks every request to
``seat_agent.page.app`` passes before anything else runs. Pure: no I/O, no aiohttp.

The page shows the chapters the expert reads and takes the scores they give, and any web page
open in the same browser, or any process on the terminal, can send requests to 127.0.0.1. So:

* **Only on loopback.** ``check_loopback`` refuses to serve on any other address: other
  computers on the venue's network must not reach the page at all.
* **Only by a loopback name.** The ``Host`` header must be ``127.0.0.1:<port>``,
  ``localhost:<port>``, ``[::1]:<port>`` or the bound address with the port: a web page whose
  own domain was re-pointed at 127.0.0.1 (DNS rebinding) sends its own name, and gets 421.
* **Writes only from the page itself.** A request other than GET/HEAD must carry the page's own
  ``Origin``, or, from a client that sends no ``Origin``, ``X-Seat-Page: 1``: a header no other
  web page can add without a CORS preflight, which this server never grants (403). A foreign
  ``Origin`` is refused on every method.
* **A per-start key.** Everything but the page's three static files needs the key
  (``X-Seat-Key``; 401 without it): 256 random bits the agent makes at each start
  (``new_page_key``) and hands only to the page it opens, in the address's fragment
  (``opening_url``: ``http://127.0.0.1:8765/#k=…``), which a browser never sends to a server.
  The page's script keeps it for the tab and sends it as a header. Another local process or a
  page from before a restart does not know it.

The key is printed for the person at the terminal and never logged; a refusal never repeats it.
"""

from __future__ import annotations

import hmac
import ipaddress
import re
import secrets
from dataclasses import dataclass

from seat_agent.errors import SeatAgentError

__all__ = [
    "KEY_HEADER",
    "PAGE_HEADER",
    "PAGE_KEY_ENV",
    "PUBLIC_PATHS",
    "PageSetupError",
    "Refusal",
    "check_loopback",
    "check_page_key",
    "check_request",
    "new_page_key",
    "opening_url",
    "url_host",
]

#: A launcher that opens the browser itself (the demo) may hand the agent its key here.
PAGE_KEY_ENV = "SEAT_AGENT_PAGE_KEY"
KEY_HEADER = "X-Seat-Key"
PAGE_HEADER = "X-Seat-Page"
#: The page's own files: nothing secret in them, so they load before the key is known.
PUBLIC_PATHS = frozenset({"/", "/expert.js", "/expert.css"})
SAFE_METHODS = frozenset({"GET", "HEAD"})

_KEY = re.compile(r"[A-Za-z0-9_-]{22,128}")  # URL-safe Base64, at least 128 bits
_SHOWN = 80  # of a foreign Host or Origin quoted back


class PageSetupError(SeatAgentError):
    """The expert's page cannot be served as asked (a non-loopback address, a weak key)."""


@dataclass(frozen=True)
class Refusal:
    """An answer instead of the handler's: ``status``, a stable ``code``, Chinese ``detail``."""

    status: int
    code: str
    detail: str


def new_page_key() -> str:
    """A fresh key for one start of the agent: 256 random bits, URL-safe Base64."""
    return secrets.token_urlsafe(32)


def check_page_key(key: str) -> str:
    """``key`` if it can serve as the page key (one handed over by a launcher)."""
    if not _KEY.fullmatch(key):
        raise PageSetupError(
            f"{PAGE_KEY_ENV} 须为 22–128 个字符的 URL 安全 Base64 随机串（至少 128 位）"
        )
    return key


def check_loopback(host: str) -> str:
    """``host`` if it is a loopback address (127.0.0.0/8 or ::1); refuses anything else."""
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise PageSetupError(
            f"专家页面只能在本机回环地址上提供（127.0.0.1 或 ::1），拒绝在「{host}」上提供："
            "否则网络中的其他计算机也能访问评审材料"
        )
    return host


def url_host(host: str) -> str:
    """``host`` as it appears in a URL or a ``Host`` header (IPv6 in brackets)."""
    return f"[{host}]" if ":" in host else host


def opening_url(host: str, port: int, key: str) -> str:
    """The address the person opens: the page, with the key in the fragment."""
    return f"http://{url_host(host)}:{port}/#k={key}"


def _shown(text: str) -> str:
    return text[:_SHOWN] if text else "（空）"


def _hosts(bound: str, port: int) -> frozenset[str]:
    names = {"127.0.0.1", "localhost", "[::1]", url_host(bound).lower()}
    hosts = {f"{name}:{port}" for name in names}
    if port == 80:  # browsers leave the default port out
        hosts |= names
    return frozenset(hosts)


def check_request(
    *,
    method: str,
    path: str,
    host: str | None,
    origin: str | None,
    page_header: str | None,
    key_header: str | None,
    bound: tuple[str, int],
    key: str,
) -> Refusal | None:
    """Why the request must be refused, or None. ``bound`` is the (address, port) the request
    arrived on; the other arguments are the request's method, path and headers."""
    address, port = bound
    home = f"http://{url_host(address)}:{port}/#k=…"
    if host is None or host.lower() not in _hosts(address, port):
        return Refusal(
            421,
            "foreign-host",
            f"拒绝访问：「{_shown(host or '')}」不是本机地址。专家页面只接受本机访问，"
            f"请打开评标终端显示的地址（{home}）",
        )
    if origin is not None and origin.lower() != f"http://{host.lower()}":
        return Refusal(
            403,
            "foreign-origin",
            f"拒绝来自其他网页（{_shown(origin)}）的请求：只有本终端的专家页面可以读取评审材料、"
            "提交签到、评分和签署",
        )
    if method not in SAFE_METHODS and origin is None and page_header != "1":
        return Refusal(
            403,
            "origin-required",
            f"拒绝请求：既没有 Origin 也没有 {PAGE_HEADER} 请求头。只有本终端的专家页面可以"
            "提交签到、评分和签署",
        )
    if path in PUBLIC_PATHS:
        return None
    if not key_header:
        return Refusal(
            401,
            "page-key-required",
            f"本页面没有评标终端的访问密钥：请打开评标终端启动时显示的完整地址（{home}）",
        )
    if not hmac.compare_digest(key_header.encode("utf-8", "replace"), key.encode()):
        return Refusal(
            401,
            "page-key-wrong",
            "访问密钥不正确（评标终端可能已重新启动）：请重新打开评标终端本次启动时显示的"
            f"完整地址（{home}）",
        )
    return None
