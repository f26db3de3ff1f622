"""`evaluation-hub user add` as an operator runs it: this virtualenv's console script against a
fresh SQLite database migrated with `evaluation-hub db upgrade`. The user is added through the
use case (audited as ``cli:<OS user>``, and `audit verify` proves the chain), every refusal is
one line on stderr, and the password is never echoed, printed, logged or stored in clear."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import select as sql_select

from evaluation_hub.admin.passwords import verify_password
from evaluation_hub.audit.keys import write_public_key
from evaluation_hub.audit.store import load_chain
from evaluation_hub.db.engine import Database
from evaluation_hub.db.models import User, Venue

EVALUATION_HUB = str(Path(sys.executable).parent / "evaluation-hub")
PASSWORD = "Kunming-2026!cli"
OS_USER = "clerk"


@pytest.fixture
def env() -> dict[str, str]:
    """The command's environment: a known OS user name, no database from the caller's shell."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("EVALHUB_")}
    env.update(LOGNAME=OS_USER, USER=OS_USER, EVALHUB_LOG_FORMAT="json")
    return env


def hub(
    tmp_path: Path, env: dict[str, str], *args: str, **kwargs: object
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [EVALUATION_HUB, *args],
        cwd=tmp_path,  # where HubConfig keeps var/token.secret
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        **kwargs,
    )


@pytest.fixture
def url(tmp_path: Path, env: dict[str, str]) -> str:
    """A fresh SQLite database migrated by `evaluation-hub db upgrade`, with the venue KM."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'db' / 'hub.db'}"
    done = hub(tmp_path, env, "db", "upgrade", "--database-url", url)
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"database {url} is at the latest revision\n"
    return url


async def add_venue(url: str) -> int:
    db = Database(url)
    try:
        async with db.write() as s:
            venue = Venue(
                code="KM",
                name="云南省公共资源交易中心（昆明）",
                region_code="530100",
                supervising_department="云南省发展和改革委员会",
            )
            s.add(venue)
            await s.flush()
            return venue.id
    finally:
        await db.dispose()


def never_shown(password: str, *outputs: subprocess.CompletedProcess[str]) -> None:
    for done in outputs:
        assert password not in done.stdout and password not in done.stderr


def never_stored_in_clear(password: str, directory: Path) -> None:
    for path in directory.iterdir():  # hub.db and any journal or WAL file beside it
        assert password.encode() not in path.read_bytes(), path


async def test_user_add_from_a_password_file_is_audited_and_the_chain_verifies(
    tmp_path: Path, env: dict[str, str], url: str
) -> None:
    km = await add_venue(url)
    password_file = tmp_path / "password"
    password_file.write_text(PASSWORD + "\n", encoding="utf-8")
    added = hub(
        tmp_path,
        env,
        "user",
        "add",
        "km_op2",
        "--role",
        "host_operator",
        "--venue-code",
        "KM",
        "--display-name",
        "主场业务员 王五",
        "--password-file",
        str(password_file),
        "--database-url",
        url,
    )
    assert added.returncode == 0, added.stderr
    assert added.stdout == (
        "user km_op2 added (#1): 主场业务人员 (host_operator), "
        f"venue KM 云南省公共资源交易中心（昆明） (#{km}), display name 主场业务员 王五\n"
    )
    assert added.stderr == ""

    # A system administrator, the password on standard input.
    second = "Second-password-2026"
    admin = hub(
        tmp_path,
        env,
        "user",
        "add",
        "ops",
        "--role",
        "system_admin",
        "--password-file",
        "-",
        "--database-url",
        url,
        input=second + "\n",
    )
    assert admin.returncode == 0, admin.stderr
    assert admin.stdout == "user ops added (#2): 系统管理员 (system_admin), no venue\n"

    db = Database(url)
    try:
        async with db.read() as s:
            users = {u.username: u for u in (await s.execute(sql_select(User))).scalars()}
            events = await load_chain(s)
    finally:
        await db.dispose()
    assert verify_password(PASSWORD, users["km_op2"].password_hash)
    assert verify_password(second, users["ops"].password_hash)
    assert (users["km_op2"].role, users["km_op2"].venue_id, users["km_op2"].active) == (
        "host_operator",
        km,
        True,
    )
    assert [(e.kind, e.subject, e.actor) for e in events] == [
        ("admin.user_added", "user:km_op2", f"cli:{OS_USER}"),
        ("admin.user_added", "user:ops", f"cli:{OS_USER}"),
    ]

    public_key = tmp_path / "hub-key.pub"
    write_public_key(Ed25519PrivateKey.generate(), public_key)
    verified = hub(
        tmp_path, env, "audit", "verify", "--database-url", url, "--public-key", str(public_key)
    )
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert verified.stdout.startswith("audit chain OK: 2 events, 0 checkpoints, head ")

    never_shown(PASSWORD, added, admin, verified)
    never_shown(second, added, admin, verified)
    never_stored_in_clear(PASSWORD, tmp_path / "db")
    never_stored_in_clear(second, tmp_path / "db")


async def test_user_add_refusals_are_one_line_on_stderr_and_add_nothing(
    tmp_path: Path, env: dict[str, str], url: str
) -> None:
    await add_venue(url)
    password_file = tmp_path / "password"
    password_file.write_text(PASSWORD, encoding="utf-8")  # no final newline: fine too

    def add(*args: str, **kwargs: object) -> subprocess.CompletedProcess[str]:
        return hub(tmp_path, env, "user", "add", *args, "--database-url", url, **kwargs)

    operator = ("--role", "host_operator", "--venue-code", "KM")
    from_file = ("--password-file", str(password_file))
    first = add("km_op2", *operator, *from_file)
    assert first.returncode == 0, first.stderr

    refusals = {
        "用户名「km_op2」已被使用，请换一个用户名": add(
            "km_op2", "--role", "venue_admin", "--venue-code", "KM", *from_file
        ),
        "场地代码「XX」不存在，请核对场地代码": add(
            "xx_admin", "--role", "venue_admin", "--venue-code", "XX", *from_file
        ),
        "监督人员必须属于一个场地：请指定其所在场地的代码": add(
            "km_sup2", "--role", "supervisor", *from_file
        ),
    }
    for message, done in refusals.items():
        assert (done.returncode, done.stdout, done.stderr) == (
            2,
            "",
            f"evaluation-hub: {message}\n",
        )
    never_shown(PASSWORD, first, *refusals.values())

    two_lines = tmp_path / "two-lines"
    two_lines.write_text(f"{PASSWORD}\nsecond line\n", encoding="utf-8")
    missing = tmp_path / "missing"
    inputs = {
        f"the password file {two_lines} must hold the password on a single line": add(
            "km_op3", *operator, "--password-file", str(two_lines)
        ),
        f"cannot read the password file {missing}: FileNotFoundError": add(
            "km_op3", *operator, "--password-file", str(missing)
        ),
        # Without --password-file the command asks on the terminal; here there is none.
        "no terminal to ask for the password on: pass --password-file PATH (or "
        "--password-file - to read it from standard input)": add(
            "km_op3", *operator, stdin=subprocess.DEVNULL
        ),
    }
    for message, done in inputs.items():
        assert (done.returncode, done.stdout, done.stderr) == (
            2,
            "",
            f"user add: {message}; nothing was added\n",
        )
    never_shown(PASSWORD, *inputs.values())

    db = Database(url)
    try:
        async with db.read() as s:
            names = list((await s.execute(sql_select(User.username))).scalars())
            kinds = [e.kind for e in await load_chain(s)]
    finally:
        await db.dispose()
    assert (names, kinds) == (["km_op2"], ["admin.user_added"])


def _read_until(stream: int, marker: bytes, seen: bytearray, deadline: float) -> None:
    while marker not in seen:
        left = deadline - time.monotonic()
        assert left > 0, f"no {marker!r} in {bytes(seen)!r}"
        ready, _, _ = select.select([stream], [], [], left)
        if ready:
            chunk = os.read(stream, 4096)
            assert chunk, f"stream closed before {marker!r}: {bytes(seen)!r}"
            seen += chunk


def _drain(fd: int) -> bytes:
    got = b""
    while select.select([fd], [], [], 0.2)[0]:
        try:
            chunk = os.read(fd, 4096)
        except OSError:  # EIO: the other end of the terminal is closed
            break
        if not chunk:
            break
        got += chunk
    return got


@pytest.mark.parametrize("typo", [False, True], ids=["same twice", "typo the second time"])
def test_the_password_is_asked_for_twice_on_the_terminal_without_echo(
    tmp_path: Path, env: dict[str, str], url: str, typo: bool
) -> None:
    again = PASSWORD + "x" if typo else PASSWORD
    # A terminal of its own (a new session has no /dev/tty, so getpass uses this one).
    terminal, seat = pty.openpty()
    proc = subprocess.Popen(
        [EVALUATION_HUB, "user", "add", "ops", "--role", "system_admin", "--database-url", url],
        cwd=tmp_path,
        env=env,
        stdin=seat,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    os.close(seat)
    assert proc.stderr is not None and proc.stdout is not None
    prompts = bytearray()
    try:
        deadline = time.monotonic() + 60
        # Each answer only once its prompt is out: echo is off by then.
        _read_until(proc.stderr.fileno(), b"Password for ops: ", prompts, deadline)
        os.write(terminal, PASSWORD.encode() + b"\n")
        _read_until(proc.stderr.fileno(), b"The same password again: ", prompts, deadline)
        os.write(terminal, again.encode() + b"\n")
        stdout, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    echoed = _drain(terminal)
    os.close(terminal)
    assert PASSWORD.encode() not in echoed
    shown = (bytes(prompts) + stdout + stderr).decode()
    assert PASSWORD not in shown
    prompted = "Password for ops: \nThe same password again: \n"
    if typo:
        assert proc.returncode == 2
        assert (stdout.decode(), (bytes(prompts) + stderr).decode()) == (
            "",
            prompted + "user add: the two passwords differ; nothing was added\n",
        )
        return
    assert proc.returncode == 0, stderr
    assert stdout.decode() == "user ops added (#1): 系统管理员 (system_admin), no venue\n"
    assert (bytes(prompts) + stderr).decode() == prompted
    never_stored_in_clear(PASSWORD, tmp_path / "db")
