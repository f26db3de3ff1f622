"""``evaluation-hub demo`` (and ``python -m evaluation_hub.demo``): seed, stage, serve, stop.

The options are ``evaluation_hub.cli.demo_arguments`` (there so ``--help`` imports no demo):

* plain: seed the Yunnan demo into ``<state-dir>/hub.db`` (SQLite, in-process bus) if it is
  empty, start a seat agent for each demo seat (``--no-seats``: none) and serve the hub through
  ``evaluation_hub.api.app.create_app``; ``--seed-only`` stops after seeding;
* ``--script`` (needs ``--reset``): stage the evaluation (``stage``) and drive it beside the
  hub (``script.Driver``) until the report is signed; scripted experts at every away seat;
* ``--play E0x``: a person plays that away expert on the seat's page (its seat runs no
  script; check-in opens early for the demo and the expert's PIN is printed);
* ``--play host``: a person runs the host from the pages (the host page and the evaluation
  console); the driver does nothing the host does and says what it waits for.

Ctrl-C (SIGINT, or SIGTERM) ends the demo cleanly at any moment: the hub stops serving (its
database units of work end and the database is closed), the seat agents are told to stop
(SIGTERM; their outboxes stay on disk with whatever is not yet acknowledged) and waited for, a
line says so, and the command exits 0. A second Ctrl-C while the agents stop is ignored.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import os
import shutil
import signal
import subprocess
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import structlog

from evaluation_hub.audit.store import fix_suite
from evaluation_hub.booking.directory import list_venues
from evaluation_hub.config import HubConfig
from evaluation_hub.db.engine import Database
from evaluation_hub.demo.data import DEMO_SEATS, HOST, load_directory, played_seat
from evaluation_hub.demo.processes import (
    page_ports,
    prepare_seats,
    start_seat_agents,
    stop_seat_agents,
)
from evaluation_hub.demo.script import Driver, say
from evaluation_hub.demo.seed import SEED_ACTOR, seed, seed_bookings
from evaluation_hub.demo.stage import Stage, stage_evaluation
from evaluation_hub.errors import ConfigError
from evaluation_hub.services import Services
from evaluation_hub.sessions.cutoff import cutoff_on

if TYPE_CHECKING:
    from aiohttp import web

__all__ = ["main", "run"]

log = structlog.get_logger(__name__)

# With an expert played, check-in opens this long before the booked window (it is tomorrow).
PLAY_CHECKIN_LEAD = timedelta(days=3)
# The demo's evaluation runs now (scripted, or started by hand from the host page). Started
# within an hour of the evening cut-off (开评分离, 22:00 Beijing time by default) or past it, the
# hub would pause it at the cut-off or at once, as it must a real one; the demo then moves its
# own cut-off to the day's end and says so. (From 23:59 to midnight it still pauses.)
LATE_DEMO_CUTOFF = time(23, 59)


def late_evening(config: HubConfig, now: datetime) -> HubConfig:
    """``config`` with the evening cut-off moved to :data:`LATE_DEMO_CUTOFF` if ``now`` is
    within an hour of the configured one or past it (demo only), else unchanged."""
    rules = config.regulation.evening_cutoff
    if now < cutoff_on(now, rules) - timedelta(hours=1) or rules.at >= LATE_DEMO_CUTOFF:
        return config
    say(
        f"现在已临近或超过开评分离截止时间 {rules.at:%H:%M}（北京时间），"
        f"本次演示的截止时间临时改为 {LATE_DEMO_CUTOFF:%H:%M}（仅限演示，正式运行不受影响）"
    )
    later = dataclasses.replace(rules, at=LATE_DEMO_CUTOFF)
    regulation = dataclasses.replace(config.regulation, evening_cutoff=later)
    return dataclasses.replace(config, regulation=regulation)


@dataclasses.dataclass(frozen=True)
class Options:
    state: Path
    seats: bool
    scripted: bool
    #: the away expert a person plays, HOST for the host, None: nobody
    play: str | None
    seed_only: bool

    @property
    def expert(self) -> str | None:
        return self.play if self.play not in (None, HOST) else None


def _options(args: argparse.Namespace) -> Options:
    seats = not getattr(args, "no_seats", False)
    scripted = bool(getattr(args, "script", False))
    play = getattr(args, "play", None)
    play = play.strip().upper() if play else None
    if scripted and not seats:
        raise ConfigError("--script needs the seat agents (their experts confirm and score)")
    if play is not None:
        if not scripted:
            raise ConfigError("--play needs --script (the other parts are scripted)")
        if play != HOST:
            played_seat(play)
    return Options(Path(args.state_dir), seats, scripted, play, bool(args.seed_only))


def _services(config: HubConfig, db: Database) -> Services:
    """The use cases' services for the steps before the hub serves (no seat links yet), with
    the sealing and hub keys the hub will use."""
    from evaluation_hub.audit.keys import load_or_create_private_key
    from evaluation_hub.booking.regions import load_distances
    from evaluation_hub.bus.memory import MemoryBus
    from evaluation_hub.sealing import Sealer

    config.hub_key_file.parent.mkdir(parents=True, exist_ok=True)
    return Services(
        config=config,
        db=db,
        sealer=Sealer.from_env_or_file(config.sealing_key, config.sealing_key_file, config.suite),
        bus=MemoryBus(),
        hub_key=load_or_create_private_key(config.hub_key_file, config.suite),
        distances=load_distances(),
        clock=lambda: datetime.now(UTC),
    )


async def _prepare(
    options: Options, config: HubConfig, hub_url: str
) -> tuple[bool, list[Path], Stage | None]:
    """Migrate, seed an empty database, enrol the seats, stage the evaluation; the database is
    closed again before the hub opens its own."""
    db = Database(config.database_url)
    try:
        await db.upgrade()
        async with db.write() as s:  # the suite is fixed before the seed's first audit event
            await fix_suite(s, config.suite)
        hub = _services(config, db)
        now = datetime.now(UTC)
        empty = not await list_venues(hub, SEED_ACTOR)
        if options.scripted and not empty:
            raise ConfigError("--script needs a fresh demo database; add --reset")
        ids: dict[str, Any] = {}
        if empty:
            ids = await seed(hub, now)
            ids["bookings"] = await seed_bookings(hub, ids, now)
        seats_dir = options.state / "seats"
        dirs = (
            await prepare_seats(hub, seats_dir, hub_url, config.hub_id, now)
            if options.seats
            else []
        )
        stage = None
        if options.scripted:
            stage = await stage_evaluation(hub, ids, seats_dir, now, play=options.expert)
        return empty, dirs, stage
    finally:
        await db.dispose()


def _driving(stage: Stage, plays_host: bool) -> Callable[[web.Application], AsyncIterator[None]]:
    """A cleanup context running the driver beside the hub while it serves."""

    async def drive(app: web.Application) -> None:
        from evaluation_hub.api.keys import CLOCK, SERVICES
        from evaluation_hub.api.seat_link import CHAPTERS

        driver = Driver(
            app[SERVICES], stage, app[CLOCK], plays_host=plays_host, chunks=app[CHAPTERS]
        )
        try:
            await driver.run()
        except Exception:
            log.exception("demo.driver_failed", session_id=stage.session_id)
            say("演示脚本出错并已停止（详见上面的日志）；按 Ctrl+C 退出")

    async def driving(app: web.Application) -> AsyncIterator[None]:
        task = asyncio.create_task(drive(app))
        yield
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    return driving


def _print_addresses(
    options: Options,
    config: HubConfig,
    seeded: bool,
    seat_dirs: list[Path],
    page_keys: dict[str, str],
    stage: Stage | None,
) -> None:
    from seat_agent.page.guard import opening_url

    data = load_directory()
    base = f"http://{config.host}:{config.port}"
    print(
        f"\n远程异地评标 主场枢纽 demo ({'seeded' if seeded else 'existing data'}: "
        f"{config.database_url})"
    )
    print(f"  admin page:   {base}/admin   (venue admins: seat directory and booking requests)")
    print(
        f"  host page:    {base}/host    (host site: allocation, session lifecycle, check-in PINs)"
    )
    print(f"  host console: {base}/console   (host site: the evaluation console)")
    print(
        f"  supervision:  {base}/supervision   (supervisors: record, incidents, 函告, copy notices)"
    )
    print(f"  API document: {base}/api/openapi.json")
    print(
        "  sign in as dl_admin / hh_admin / qj_admin / km_operator / km_supervisor / "
        f"qj_supervisor / sysadmin, password {data['password']}"
    )
    if options.seed_only:
        return
    if seat_dirs:
        print(
            f"  seat agents:  {', '.join(DEMO_SEATS)} publishing the test pattern; "
            f"logs in {options.state / 'seats'}/<seat>.log"
        )
        print(f"  video wall:   {base}/wall   (sign in as km_supervisor: every seat's picture)")
        for seat_id, port in page_ports(config.port).items():
            print(
                f"  expert page:  {opening_url('127.0.0.1', port, page_keys[seat_id])}   "
                f"(seat {seat_id}{'' if stage is None else ', expert ' + DEMO_SEATS[seat_id]})"
                + ("   ← 由您扮演" if options.expert == DEMO_SEATS[seat_id] else "")
            )
    if stage is None:
        return
    print(
        f"  scripted evaluation: {data['session']['project_code']} is in check-in; "
        "E01/E02 at the host's seats (KM-01, KM-02) and E03–E07 at the away seats confirm "
        "the commitment from their seats; once all seven have, the evaluation starts and each "
        "saves from their seat every few seconds; once every sheet is in, the hub runs the "
        "deviation review (the scripted experts answer their requests), seals and reveals, "
        "and every member signs from their seat with its key "
        "(the log says demo.report_signed).\n"
        f"    open {base}/host as km_operator to watch it; the signed report is at "
        f"{base}/api/sessions/{stage.session_id}/evaluation/report (signed in as "
        "km_operator); the expected ranking is in configs/demo/scores.yaml"
    )
    if options.play == HOST:
        print(
            "\n  ===== 由您扮演主场（主场业务人员）=====\n"
            f"  1. 打开主场页面 {base}/host 和主场评标控制台 {base}/console，"
            f"以 km_operator 登录（密码 {data['password']}）\n"
            f"  2. 评标会 #{stage.session_id} 已在签到中（预约、专家工位、标书包均已由演示准备好）；"
            "全体委员确认评标纪律承诺后，开始评审\n"
            "  3. 向各工位发放章节；全体委员（E01/E02 在主场工位 KM-01/KM-02）在各自工位评分、答复和签署\n"
            "  4. 评分表全部收齐后发起偏离复核；复核请求全部答复后再次发起，没有新的偏离即可封存\n"
            "  5. 封存后解密并公布结果；全体委员签署后演示结束（report_signed）\n"
            "  下面的 [演示] 行说明演示正在等待什么。\n",
            flush=True,
        )
    elif stage.played:
        seat_id = played_seat(stage.played)
        page = opening_url("127.0.0.1", page_ports(config.port)[seat_id], page_keys[seat_id])
        print(
            f"\n  ===== 由您扮演专家 {stage.played}（工位 {seat_id}）=====\n"
            f"  1. 打开专家页面：{page}\n"
            f"  2. 签到：评标会编号 {stage.session_id}，"
            f"专家编号 {stage.played}，签到码 {stage.played_pin}（一次性，仅本次有效）\n"
            "  3. 核对投标人数量后确认评标纪律承诺；其余委员全部确认后评标自动开始\n"
            "  4. 阅读各章节，为每个部分（技术章节和商务部分）评分并提交\n"
            "  5. 如收到偏离复核请求，在页面答复（保留原评分须写明理由，或重新评分后答复）\n"
            "  6. 结果公布后在页面签署评标报告；全体签署后演示结束（report_signed）\n"
            "  下面的 [演示] 行说明演示正在等待什么。\n",
            flush=True,
        )


def _stop(agents: list[subprocess.Popen[bytes]], seats_dir: Path) -> None:
    """Tell the seat agents to stop and wait for them; a second Ctrl-C meanwhile is ignored."""
    if not agents:
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        stop_seat_agents(agents)
    finally:
        signal.signal(signal.SIGINT, previous)
    say(f"工位终端已停止；尚未送达的评分保存在各工位的评分暂存中（{seats_dir}/<工位>/outbox.db）")


def run(args: argparse.Namespace) -> int:
    """Run the demo for parsed ``args``; 0 when it ends, by Ctrl-C or otherwise."""
    from evaluation_hub.logging import configure_logging

    options = _options(args)
    if args.reset and options.state.exists():
        shutil.rmtree(options.state)
    options.state.mkdir(parents=True, exist_ok=True)
    url = f"sqlite+aiosqlite:///{options.state / 'hub.db'}"
    config = HubConfig.from_env(
        state_dir=options.state, database_url=url, host=args.host, port=args.port
    )
    # The demo keeps its recordings beside its database unless told otherwise.
    if "EVALHUB_RECORDINGS_DIR" not in os.environ:
        config = dataclasses.replace(config, recordings_dir=options.state / "recordings")
    # Scripted or by hand (the host page opens check-in and starts the evaluation now), the
    # demo's evaluation runs today.
    config = late_evening(config, datetime.now(UTC))
    if options.expert is not None:
        # The session is tomorrow: let the person check in now (demo only).
        checkin = dataclasses.replace(config.regulation.checkin, lead=PLAY_CHECKIN_LEAD)
        regulation = dataclasses.replace(config.regulation, checkin=checkin)
        config = dataclasses.replace(config, regulation=regulation)
    configure_logging(json=config.json_logs)
    agents: list[subprocess.Popen[bytes]] = []
    try:
        hub_url = f"ws://{config.host}:{config.port}/ws/seat"
        seeded, seat_dirs, stage = asyncio.run(_prepare(options, config, hub_url))
        from seat_agent.page.guard import new_page_key

        page_keys = {seat_id: new_page_key() for seat_id in DEMO_SEATS}  # one per start
        _print_addresses(options, config, seeded, seat_dirs, page_keys, stage)
        if options.seed_only:
            return 0
        _serve(options, config, seat_dirs, page_keys, stage, agents)
    except KeyboardInterrupt:
        pass  # Ctrl-C before the hub served, or between its steps: stop all the same
    finally:
        _stop(agents, options.state / "seats")
    say("演示已停止，数据库已关闭")
    return 0


def _serve(
    options: Options,
    config: HubConfig,
    seat_dirs: list[Path],
    page_keys: dict[str, str],
    stage: Stage | None,
    agents: list[subprocess.Popen[bytes]],
) -> None:
    """Serve the hub until Ctrl-C (aiohttp's ``run_app`` ends gracefully on SIGINT and SIGTERM:
    streams and seat links closed, the driver cancelled, the database disposed)."""
    from aiohttp import web

    from evaluation_hub.api.app import create_app

    app = create_app(config)
    if stage is not None:
        app.cleanup_ctx.append(_driving(stage, plays_host=options.play == HOST))
    scripts = stage.scripts if stage is not None else {}
    agents += start_seat_agents(
        seat_dirs, scripts, "testpattern", page_ports(config.port), page_keys
    )
    web.run_app(app, host=config.host, port=config.port, print=None)


def main(argv: list[str] | None = None) -> int:
    """``python -m evaluation_hub.demo``: the same options as ``evaluation-hub demo``."""
    from evaluation_hub.cli import demo_arguments

    parser = argparse.ArgumentParser(
        prog="python -m evaluation_hub.demo", description="远程异地评标 demo (Yunnan)"
    )
    demo_arguments(parser)
    args = parser.parse_args(argv)
    try:
        return run(args)
    except ConfigError as exc:
        parser.exit(2, f"demo: {exc}\n")
