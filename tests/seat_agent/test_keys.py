"""The terminal's keys on disk and the ``seat-agent init`` / ``enroll`` commands."""

from __future__ import annotations

import asyncio
import stat
from pathlib import Path

import pytest

from seat_agent.cli import main
from seat_agent.errors import StateDirError
from seat_agent.keys import init_state_dir, load_identity
from seat_protocol.auth import enrolment_code, sign_challenge, verify_challenge
from tests.seats.conftest import HubUnderTest


def test_init_writes_owner_only_keys_that_load_back(tmp_path: Path) -> None:
    made = init_state_dir(tmp_path / "s", seat_id="DL.DL-01", hub_url="ws://h/ws", hub_id="hub")
    for name in ("ed25519.key", "x25519.key"):
        assert stat.S_IMODE((tmp_path / "s" / name).stat().st_mode) == 0o600
    loaded = load_identity(tmp_path / "s")
    assert (loaded.seat_id, loaded.hub_url, loaded.hub_id) == ("DL.DL-01", "ws://h/ws", "hub")
    assert loaded.ed25519_public == made.ed25519_public
    assert loaded.x25519_public == made.x25519_public
    assert loaded.enrolment_code == enrolment_code(made.ed25519_public, made.x25519_public)
    nonce = bytes(32)
    signature = sign_challenge(loaded.ed25519, nonce, "DL.DL-01", "hub")
    assert verify_challenge(made.ed25519_public, signature, nonce, "DL.DL-01", "hub")


def test_init_never_overwrites_keys(tmp_path: Path) -> None:
    init_state_dir(tmp_path, seat_id="DL.DL-01", hub_url="ws://h/ws", hub_id="hub")
    with pytest.raises(StateDirError) as caught:
        init_state_dir(tmp_path, seat_id="DL.DL-01", hub_url="ws://h/ws", hub_id="hub")
    assert str(caught.value) == (
        f"{tmp_path / 'ed25519.key'} already exists; this terminal is already initialised "
        "(use a new --state-dir to enrol with new keys)"
    )


def test_load_from_an_empty_directory_says_what_to_run(tmp_path: Path) -> None:
    with pytest.raises(StateDirError) as caught:
        load_identity(tmp_path)
    assert str(caught.value) == (
        f"{tmp_path / 'seat.json'} is missing; run `seat-agent init --state-dir {tmp_path}` first"
    )


def test_cli_init_prints_the_enrolment_code(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["init", "--state-dir", str(tmp_path / "s"), "--seat-id", "DL.DL-01"]
    # A hub on another machine is reached over TLS only.
    assert main([*argv, "--hub", "ws://h/ws/seat"]) == 1
    assert capsys.readouterr().err == (
        "seat-agent: --hub 'ws://h/ws/seat' 是未加密的连接：请使用 wss://"
        "（ws:// 仅用于连接本机上的评标系统）\n"
    )
    assert main([*argv, "--hub", "wss://h/ws/seat"]) == 0
    code = load_identity(tmp_path / "s").enrolment_code
    assert capsys.readouterr().out == f"工位 DL.DL-01 的密钥已生成。登记码：{code}\n"
    assert main([*argv, "--hub", "wss://h/ws/seat"]) == 1
    assert "already initialised" in capsys.readouterr().err


async def test_cli_enroll_records_the_request_at_the_hub(
    tmp_path: Path, hub: HubUnderTest, capsys: pytest.CaptureFixture[str]
) -> None:
    state = str(tmp_path / "s")
    argv = ["init", "--state-dir", state, "--seat-id", "DL.DL-03", "--hub", hub.url]
    assert main([*argv, "--hub-id", "hub-km"]) == 0
    capsys.readouterr()
    # main() runs its own event loop, so it runs in a thread beside the test's hub.
    assert await asyncio.to_thread(main, ["enroll", "--state-dir", state, "--no-wait"]) == 0
    code = load_identity(tmp_path / "s").enrolment_code
    # The hub in this process logs to stdout too; the command's own line is the last.
    assert capsys.readouterr().out.splitlines()[-1] == (
        f"登记申请已提交。请场地管理员在管理页面核对登记码：{code}"
    )
    [row] = await hub.enrolments()
    assert (row.seat_key, row.enrolment_code, row.status) == ("DL.DL-03", code, "pending")


async def test_cli_enroll_without_a_hub_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    state = str(tmp_path / "s")
    # Port 9 on loopback: nothing listens there, so the connection is refused at once.
    argv = ["init", "--state-dir", state, "--seat-id", "DL.DL-03", "--hub", "ws://127.0.0.1:9/ws"]
    assert main(argv) == 0
    assert await asyncio.to_thread(main, ["enroll", "--state-dir", state, "--no-wait"]) == 2
    assert capsys.readouterr().err.startswith("seat-agent: cannot reach the hub: ")
