"""Setting a centre up from the command line, as an operator would: `evaluation-hub init` makes
the one first system administrator of a fresh database (the password asked for twice without
echo, never shown or stored in clear, refused once an administrator exists); `venue`, `seat`
and `user` `list|add|import` work on CSV files, `--dry-run` reports and changes nothing, a bad
file names every bad row by line and column and imports nothing, and `audit verify` proves the
chain afterwards."""

from __future__ import annotations

import asyncio
import os
import pty
import sqlite3
import subprocess
import time
from contextlib import closing
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import func
from sqlalchemy import select as sql_select

from evaluation_hub.admin.passwords import verify_password
from evaluation_hub.audit.keys import write_public_key
from evaluation_hub.audit.store import load_chain
from evaluation_hub.cli import main
from evaluation_hub.db.engine import Database
from evaluation_hub.db.models import Seat, User, Venue
from tests.admin.test_cli import (
    EVALUATION_HUB,
    OS_USER,
    _drain,
    _read_until,
    env,
    hub,
    never_shown,
    never_stored_in_clear,
    url,
)

__all__ = ["env", "url"]  # the fixtures, imported for this module's tests

PASSWORD = "Init-admin-2026!"
VENUES = """code,name,region_code,supervising_department,contact_name,contact_phone,latitude,longitude
KM,云南省公共资源交易中心（昆明）,530100,云南省发展和改革委员会,李明,0871-0000001,24.880,102.821
QJ,曲靖市公共资源交易中心,530300,曲靖市发展和改革委员会,,,,
"""
BAD_VENUES = """code,name,region_code,supervising_department,latitude,longitude
km,昆明,530100,云南省发展和改革委员会,,
DL,大理州公共资源交易中心,110000,,91,100
DL,大理,532900,大理州发展和改革委员会,,
"""
SEATS = """venue_code,label,room,capabilities,status,shared
KM,KM-01,第一评标室,camera microphone,,
KM,KM-02,第一评标室,,maintenance,否
QJ,QJ-01,,camera,,
"""
USERS = """username,role,venue_code,display_name
km_admin,venue_admin,KM,昆明场地管理员
qj_admin,venue_admin,QJ,
"""


async def counts(url: str) -> tuple[int, int, int, list[str]]:
    db = Database(url)
    try:
        async with db.read() as s:
            venues = (await s.execute(sql_select(func.count(Venue.id)))).scalar_one()
            seats = (await s.execute(sql_select(func.count(Seat.id)))).scalar_one()
            users = (await s.execute(sql_select(func.count(User.id)))).scalar_one()
            kinds = [e.kind for e in await load_chain(s)]
    finally:
        await db.dispose()
    return venues, seats, users, kinds


def test_init_asks_twice_without_echo_and_refuses_a_second_administrator(
    tmp_path: Path, env: dict[str, str], url: str
) -> None:
    terminal, seat = pty.openpty()
    proc = subprocess.Popen(
        [EVALUATION_HUB, "init", "--username", "root", "--database-url", url],
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
        _read_until(proc.stderr.fileno(), b"Password for root: ", prompts, deadline)
        os.write(terminal, PASSWORD.encode() + b"\n")
        _read_until(proc.stderr.fileno(), b"The same password again: ", prompts, deadline)
        os.write(terminal, PASSWORD.encode() + b"\n")
        stdout, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    echoed = _drain(terminal)
    os.close(terminal)
    assert PASSWORD.encode() not in echoed
    assert proc.returncode == 0, stderr
    assert stdout.decode() == "system administrator root created (#1); sign in at /admin\n"
    assert (bytes(prompts) + stderr).decode() == (
        "Password for root: \nThe same password again: \n"
    )

    # Once an administrator exists, init is refused, whatever the password source.
    password_file = tmp_path / "password"
    password_file.write_text("Another-2026-pass\n", encoding="utf-8")
    again = hub(tmp_path, env, "init", "--password-file", str(password_file), "--database-url", url)
    assert (again.returncode, again.stdout, again.stderr) == (
        2,
        "",
        "evaluation-hub: 系统管理员已存在，不能再次初始化：请由现有系统管理员在「用户管理」中新增账号\n",
    )

    # Read with the standard library: this test runs no event loop of its own.
    path = url.removeprefix("sqlite+aiosqlite:///")
    with closing(sqlite3.connect(path)) as con:
        rows = con.execute("SELECT username, role, active, password_hash FROM users").fetchall()
        events = con.execute("SELECT kind, subject, actor FROM audit_events").fetchall()
    users = [(name, role, bool(active)) for name, role, active, _ in rows]
    password_hash = rows[0][3]
    assert users == [("root", "system_admin", True)]
    assert verify_password(PASSWORD, password_hash)
    assert events == [("admin.user_added", "user:root", f"cli:{OS_USER}")]
    never_shown(PASSWORD, again)
    never_stored_in_clear(PASSWORD, tmp_path / "db")


@pytest.fixture
async def migrated(tmp_path: Path) -> str:
    """A fresh SQLite database migrated in this process (the in-process tests' database)."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'db' / 'hub.db'}"
    (tmp_path / "db").mkdir()
    db = Database(url)
    try:
        await db.upgrade()
    finally:
        await db.dispose()
    return url


async def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """``evaluation-hub ARGS`` run in this process, as the console script runs it (in a thread:
    the command runs its own event loop)."""
    capsys.readouterr()
    code = await asyncio.to_thread(main, list(args))
    out, err = capsys.readouterr()
    return code, out, err


async def test_init_refuses_a_weak_password_and_creates_nothing(
    tmp_path: Path, migrated: str, capsys: pytest.CaptureFixture[str]
) -> None:
    weak = tmp_path / "weak"
    weak.write_text("short\n", encoding="utf-8")
    assert await cli(capsys, "init", "--password-file", str(weak), "--database-url", migrated) == (
        2,
        "",
        "evaluation-hub: 密码太短：至少需要 8 个字符，请换一个更长的密码\n",
    )
    assert await counts(migrated) == (0, 0, 0, [])
    good = tmp_path / "good"
    good.write_text(PASSWORD + "\n", encoding="utf-8")
    assert await cli(capsys, "init", "--password-file", str(good), "--database-url", migrated) == (
        0,
        "system administrator admin created (#1); sign in at /admin\n",
        "",
    )
    never_stored_in_clear(PASSWORD, tmp_path / "db")


async def test_imports_with_dry_run_then_for_real_are_audited_and_the_chain_verifies(
    tmp_path: Path,
    migrated: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The commands run in this process (``evaluation_hub.cli.main``), as the console script
    runs them, so the many steps stay quick; ``init`` above runs the real script."""
    monkeypatch.setenv("LOGNAME", OS_USER)
    monkeypatch.chdir(tmp_path)
    files = {}
    for name, text in (
        ("venues", VENUES),
        ("bad", BAD_VENUES),
        ("seats", SEATS),
        ("users", USERS),
    ):
        files[name] = tmp_path / f"{name}.csv"
        files[name].write_text(text, encoding="utf-8")

    async def run(*args: str) -> subprocess.CompletedProcess[str]:
        code, out, err = await cli(capsys, *args, "--database-url", migrated)
        return subprocess.CompletedProcess(list(args), code, out, err)

    bad = await run("venue", "import", str(files["bad"]))
    assert (bad.returncode, bad.stdout) == (2, "")
    assert bad.stderr == (
        f"evaluation-hub: {files['bad']}: 5 bad, nothing imported\n"
        "  第 2 行「code」列：场地代码「km」不可用：场地代码须以大写字母开头，只含大写字母和数字，"
        "最长 16 个字符（工位标识写作「场地代码.工位编号」）\n"
        "  第 3 行「supervising_department」列：监督部门不能为空\n"
        "  第 3 行「region_code」列：行政区划代码「110000」不在地区配置（configs/regions）中："
        "请核对代码，或先在地区配置中补充该地区\n"
        "  第 3 行「latitude」列：坐标无效：纬度须在 -90 到 90 之间、经度须在 -180 到 180 之间，"
        "且两者须同时填写或同时留空\n"
        "  第 4 行「code」列：与第 3 行重复（DL）\n"
    )
    dry = await run("venue", "import", str(files["venues"]), "--dry-run")
    assert (dry.returncode, dry.stdout) == (
        0,
        "venue import (dry run, nothing changed): 2 would add, 0 already present\n"
        "  would add KM 云南省公共资源交易中心（昆明）\n"
        "  would add QJ 曲靖市公共资源交易中心\n",
    )
    assert await counts(migrated) == (0, 0, 0, [])

    done = await run("venue", "import", str(files["venues"]))
    assert done.returncode == 0, done.stderr
    again = await run("venue", "import", str(files["venues"]))
    assert again.stdout == (
        "venue import: 0 added, 2 already present\n  already present KM\n  already present QJ\n"
    )
    added = await run(
        "venue", "add", "HH", "--name", "红河州公共资源交易中心", "--region-code", "532500",
        "--supervising-department", "红河州发展和改革委员会", "--dry-run",
    )  # fmt: skip
    assert added.stdout.startswith("venue import (dry run, nothing changed): 1 would add")
    taken = await run(
        "venue", "add", "KM", "--name", "x", "--region-code", "530100",
        "--supervising-department", "y",
    )  # fmt: skip
    assert (taken.returncode, taken.stderr) == (
        2,
        "evaluation-hub: 场地代码「KM」已被使用，请换一个场地代码\n",
    )
    listing = await run("venue", "list")
    assert listing.stdout.splitlines() == [
        "code\tname\tregion_code\tenabled\tsupervising_department\tcontact\tcoordinates",
        "KM\t云南省公共资源交易中心（昆明）\t530100\tenabled\t云南省发展和改革委员会\t"
        "李明 0871-0000001\t24.88,102.821",
        "QJ\t曲靖市公共资源交易中心\t530300\tenabled\t曲靖市发展和改革委员会\t-\t-",
    ]

    dry = await run("seat", "import", str(files["seats"]), "--dry-run")
    assert dry.stdout.startswith("seat import (dry run, nothing changed): 3 would add")
    assert (await counts(migrated))[1] == 0
    assert (await run("seat", "import", str(files["seats"]))).returncode == 0
    one = await run("seat", "add", "QJ", "QJ-02", "--capability", "camera", "--not-shared")
    assert one.stdout == "seat import: 1 added, 0 already present\n  added QJ.QJ-02\n"
    unknown = await run("seat", "add", "XX", "XX-01")
    assert unknown.stderr == (
        "evaluation-hub: 工位导入文件有 1 处错误，未导入任何记录："
        "第 2 行「venue_code」列：场地代码「XX」不存在，请核对场地代码\n"
    )
    assert (await run("seat", "list", "--venue-code", "KM")).stdout.splitlines() == [
        "seat_key\troom\tstatus\tshared\tcapabilities",
        "KM.KM-01\t第一评标室\tavailable\tshared\tcamera,microphone",
        "KM.KM-02\t第一评标室\tmaintenance\tnot-shared\t-",
    ]

    dry = await run("user", "import", str(files["users"]), "--dry-run")
    assert dry.stdout.startswith("user import (dry run, nothing changed): 2 would add")
    assert (await counts(migrated))[2] == 0
    assert (await run("user", "import", str(files["users"]))).returncode == 0
    dry_add = await run(
        "user", "add", "qj_op", "--role", "host_operator", "--venue-code", "QJ", "--dry-run"
    )
    assert dry_add.stdout == (
        "user qj_op would be added: 主场业务人员 (host_operator), venue QJ "
        "(dry run, nothing changed)\n"
    )
    assert (await run("user", "list")).stdout.splitlines() == [
        "username\trole\tvenue\tactive\tdisplay_name",
        "km_admin\tvenue_admin\tKM\tdisabled\t昆明场地管理员",
        "qj_admin\tvenue_admin\tQJ\tdisabled\t",
    ]

    assert await counts(migrated) == (
        2,
        4,
        2,
        ["admin.venue_added"] * 2 + ["directory.seat_created"] * 4 + ["admin.user_added"] * 2,
    )
    public_key = tmp_path / "hub-key.pub"
    write_public_key(Ed25519PrivateKey.generate(), public_key)
    verified = await run("audit", "verify", "--public-key", str(public_key))
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert verified.stdout.startswith("audit chain OK: 8 events, 0 checkpoints, head ")
