"""The ``seat-agent`` command: ``init`` (make this terminal's keys), ``enroll`` (ask the
venue admin to approve them, then wait until approved) and ``run`` (stay connected to the hub
and deliver the score outbox until SIGTERM; see ``seat_agent.runner``).

Prints what the venue staff need (the enrolment code, the hub key's pin, the expert page's
address) in Simplified Chinese and exits non-zero with a readable message on any refusal; never
prints a private key. A ``wss://`` hub's TLS key is pinned at enrolment (``seat_agent.hub_pin``):
given with ``--hub-pin`` (``evaluation-hub tls-pin`` prints it at the hub), or recorded on the
first enrolment and shown for the person enrolling to compare. Plain ``ws://`` is accepted only
for a hub on this machine (tests, the demo). Everything the agent writes is its user's alone
(umask 077).
A launcher that opens the expert's browser itself may hand ``run`` the page's key in the
environment (``SEAT_AGENT_PAGE_KEY``, read once and removed), never on the command line, where
every local user could read it.
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import urlsplit

from websockets.exceptions import InvalidHandshake, WebSocketException

from seat_agent.connection import enroll, wait_for_approval
from seat_agent.errors import HubRefused, SeatAgentError, StateDirError
from seat_agent.keys import init_state_dir, load_identity, record_hub_pin
from seat_agent.page.guard import PAGE_KEY_ENV
from seat_agent.runner import run_until_signalled
from seat_protocol.auth import format_pin, parse_pin
from seat_protocol.suites import suite_named

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="seat-agent", description="评标工位终端")
    sub = parser.add_subparsers(dest="command", required=True)
    init = sub.add_parser("init", help="create this terminal's keys")
    init.add_argument("--state-dir", type=Path, required=True)
    init.add_argument("--seat-id", required=True, help="<venue code>.<seat label>, e.g. DL.DL-01")
    init.add_argument("--hub", required=True, help="the hub's seat websocket URL")
    init.add_argument(
        "--hub-id", default="evaluation-hub", help="the hub's id (default: %(default)s)"
    )
    init.add_argument(
        "--hub-pin",
        help="the SHA-256 of the hub's TLS public key (evaluation-hub tls-pin prints it); "
        "without it the first enrolment records the key it meets",
    )
    init.add_argument(
        "--suite",
        choices=("default", "national"),
        default="default",
        help="the hub's cryptographic suite: default (Ed25519/X25519) or national (SM2 keys); "
        "the hub refuses keys of another suite (default: %(default)s)",
    )
    en = sub.add_parser("enroll", help="send the enrolment request and wait for approval")
    en.add_argument("--state-dir", type=Path, required=True)
    en.add_argument("--no-wait", action="store_true", help="return once the request is recorded")
    en.add_argument(
        "--hub-pin", help="pin this hub TLS key instead of the one recorded (a replaced hub key)"
    )
    run = sub.add_parser("run", help="connect to the hub and deliver scores until stopped")
    run.add_argument("--state-dir", type=Path, required=True)
    run.add_argument("--script", type=Path, help="play a scripted expert's score saves (YAML/JSON)")
    run.add_argument("--publish", help="publish media: testpattern or camera[:INDEX]")
    run.add_argument(
        "--talkback",
        nargs="?",
        const="",
        metavar="SINK",
        help="receive push-to-talk audio from the hub and play it to SINK (a WAV file, "
        "alsa:default or pulse:default); without SINK it is only counted",
    )
    run.add_argument(
        "--page-port",
        type=int,
        default=8765,
        help="serve the expert's page on PORT (0: any free port; default %(default)s)",
    )
    run.add_argument(
        "--page-host",
        default="127.0.0.1",
        help="the page's loopback address, 127.0.0.1 or ::1 (default %(default)s)",
    )
    return parser


def _pin(text: str | None) -> str | None:
    if text is None:
        return None
    pin = parse_pin(text)
    if pin is None:
        raise StateDirError(
            f"--hub-pin {text!r} 无法识别：应为 64 位十六进制数字（可含空格或冒号），"
            "或 sha256/<base64>"
        )
    return pin


def _check_hub_url(url: str) -> None:
    """Refuse a plain-text hub anywhere but on this machine."""
    parts = urlsplit(url)
    if parts.scheme == "wss":
        return
    if parts.scheme != "ws" or not parts.hostname:
        raise StateDirError(
            f"--hub {url!r} 不是评标系统的工位连接地址（应为 wss://主机:端口/ws/seat）"
        )
    host = parts.hostname
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise StateDirError(
            f"--hub {url!r} 是未加密的连接：请使用 wss://（ws:// 仅用于连接本机上的评标系统）"
        )


async def _enroll(state_dir: Path, wait: bool, hub_pin: str | None) -> None:
    identity = load_identity(state_dir)
    if hub_pin is not None:
        identity = record_hub_pin(identity, hub_pin)
    first_use = identity.uses_tls and identity.hub_pin is None
    code = await enroll(identity)
    print(f"登记申请已提交。请场地管理员在管理页面核对登记码：{code}", flush=True)
    identity = load_identity(state_dir)
    if first_use and identity.hub_pin is not None:
        print(
            f"已记录主场服务器的 TLS 公钥指纹（首次登记）：{format_pin(identity.hub_pin)}\n"
            "请与主场公布的指纹逐组核对；如不一致，请停止使用本终端并立即联系主场。",
            flush=True,
        )
    elif identity.hub_pin is not None:
        print(f"主场服务器的 TLS 公钥指纹核对一致：{format_pin(identity.hub_pin)}", flush=True)
    if wait:
        print("正在等待场地管理员批准……", flush=True)
        await wait_for_approval(identity)
        print("本终端已获批准，可以连接评标系统。", flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    # Keys, scores and chapters: readable by this terminal's user only (restored on return,
    # for callers that run the command in their own process).
    previous_umask = os.umask(0o077)
    try:
        if args.command == "init":
            _check_hub_url(args.hub)
            identity = init_state_dir(
                args.state_dir,
                seat_id=args.seat_id,
                hub_url=args.hub,
                hub_id=args.hub_id,
                hub_pin=_pin(args.hub_pin),
                suite=suite_named(args.suite),
            )
            print(f"工位 {identity.seat_id} 的密钥已生成。登记码：{identity.enrolment_code}")
        elif args.command == "enroll":
            asyncio.run(_enroll(args.state_dir, not args.no_wait, _pin(args.hub_pin)))
        else:
            identity = load_identity(args.state_dir)
            asyncio.run(
                run_until_signalled(
                    identity,
                    script=args.script,
                    publish=args.publish,
                    page_port=args.page_port,
                    page_host=args.page_host,
                    page_key=os.environ.pop(PAGE_KEY_ENV, None),
                    talkback=args.talkback,
                )
            )
    except HubRefused as exc:
        print(f"seat-agent: 评标系统拒绝了本终端的连接，请联系场地管理员：{exc}", file=sys.stderr)
        return 1
    except SeatAgentError as exc:
        print(f"seat-agent: {exc}", file=sys.stderr)
        return 1
    except (OSError, InvalidHandshake, WebSocketException, TimeoutError) as exc:
        print(f"seat-agent: cannot reach the hub: {exc}", file=sys.stderr)
        return 2
    finally:
        os.umask(previous_umask)
    return 0


if __name__ == "__main__":
    sys.exit(main())
