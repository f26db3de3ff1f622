"""The scripted expert (``seat-agent run --script``): scripts are checked with Chinese messages,
the integrity commitment is confirmed before the first step (again after a lost connection or a
transient failure, never again once recorded, and a repeat the hub answers as such is harmless),
saves land in the real outbox under keys derived from the script, and playing the same script
again after a crash never makes a second save of a step."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import yaml

from seat_agent.connection import SeatLink
from seat_agent.errors import SeatAgentError
from seat_agent.keys import init_state_dir
from seat_agent.outbox import ScoreDelivery, ScoreOutbox
from seat_agent.runner import OUTBOX_FILE, open_tracks
from seat_agent.script import PROGRESS_FILE, KeyPlan, ScoreScript, ScriptCommitment, load_script
from seat_protocol.events import Connected, MessageReceived
from seat_protocol.messages import AppMessage, CommitmentDecision, RequestResult

SEAT = "DL.DL-01"
SHEETS = [{"part": "ch1", "entries": []}, {"part": "ch2", "entries": []}]


def _write(path: Path, data: object) -> Path:
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


@pytest.fixture
async def seat_outbox(tmp_path: Path) -> AsyncIterator[tuple[ScoreDelivery, KeyPlan]]:
    """A real outbox; the link is never run, so saves stay in the outbox (as offline)."""
    identity = init_state_dir(
        tmp_path / "seat", seat_id=SEAT, hub_url="ws://127.0.0.1:9/ws/seat", hub_id="hub"
    )
    keys = KeyPlan(lambda: uuid.uuid4().hex)
    outbox = await ScoreOutbox.open(identity.state_dir / OUTBOX_FILE, new_key=keys)
    try:
        yield ScoreDelivery(outbox, SeatLink(identity)), keys
    finally:
        await outbox.close()


def _progress(state: Path) -> int:
    return int(json.loads((state / PROGRESS_FILE).read_text())["done"])


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ([1, 2], "须是含 steps 列表的映射"),
        ({"session": "1", "steps": [{"sheet": {}, "points": 3}]},
         "第 1 步须是只含 session、sheet、pause、wait_for 的映射"),
        ({"steps": [{"pause": 1}, {"sheet": {"part": "ch1"}}]}, "第 2 步未指明评标会（session）"),
        ({"session": "1", "steps": [{"pause": -1}]}, "第 1 步的 pause 须是不小于 0 的秒数"),
        ({"session": "1", "steps": [{"sheet": "ch1"}]}, "第 1 步的 sheet 须是映射"),
        ({"session": "1", "steps": [{"wait_for": 3}]}, "第 1 步的 wait_for 须是文件路径"),
        ({"session": "1", "commitment": "yes", "steps": []},
         "commitment 只能是 confirm（确认评标纪律承诺）"),
        ({"commitment": "confirm", "steps": []}, "有 commitment 时须指明评标会（session）"),
        ({"session": "1", "steps": [], "pin": "123456"}, "顶层只能有 session、commitment、sign、review、steps"),
    ],
)  # fmt: skip
def test_a_bad_script_is_refused_with_what_is_wrong(
    tmp_path: Path, data: object, message: str
) -> None:
    path = _write(tmp_path / "s.yaml", data)
    with pytest.raises(SeatAgentError) as caught:
        load_script(path)
    assert str(caught.value) == f"评分脚本 {path} 无效：{message}"


def test_the_run_command_refuses_a_bad_script_before_connecting(tmp_path: Path) -> None:
    state = tmp_path / "seat"
    init_state_dir(state, seat_id=SEAT, hub_url="ws://127.0.0.1:9/ws/seat", hub_id="hub")
    missing = tmp_path / "missing.yaml"
    command = [sys.executable, "-m", "seat_agent.cli", "run", "--state-dir", str(state)]
    done = subprocess.run(
        [*command, "--script", str(missing)],
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1
    assert done.stderr == f"seat-agent: 无法读取评分脚本 {missing}：No such file or directory\n"


async def test_an_unknown_media_source_is_refused() -> None:
    with pytest.raises(SeatAgentError) as caught:
        await open_tracks("webcam")
    assert (
        str(caught.value) == "无法识别的 --publish 取值 'webcam'：应为 testpattern 或 camera[:编号]"
    )


async def test_saves_use_the_scripts_keys_and_a_replay_never_saves_twice(
    tmp_path: Path, seat_outbox: tuple[ScoreDelivery, KeyPlan]
) -> None:
    delivery, keys = seat_outbox
    state = tmp_path / "seat"
    gate = tmp_path / "gate"
    path = _write(
        tmp_path / "s.yaml",
        {"session": 7, "steps": [{"sheet": SHEETS[0]}, {"wait_for": "gate"},
                                 {"pause": 0, "sheet": SHEETS[1]}]},
    )  # fmt: skip
    script = load_script(path)
    assert script.steps[1].wait_for == gate
    expected = [script.key(SEAT, 0), script.key(SEAT, 2)]
    assert expected[0] != expected[1] and expected[0] != script.key("DL.DL-02", 0)

    # The first save is made, then the script waits for the gate file.
    task = asyncio.create_task(ScoreScript(script.steps, script.digest, 0.01).play(
        SEAT, state, delivery, keys))  # fmt: skip
    for _ in range(3000):
        if (state / PROGRESS_FILE).exists() and _progress(state) == 1:
            break
        await asyncio.sleep(0.01)
    assert _progress(state) == 1 and not task.done()  # it cannot pass the gate yet
    assert [p.idempotency_key for p in await delivery.outbox.pending()] == expected[:1]
    gate.write_text("go")
    await asyncio.wait_for(task, 60)
    pending = await delivery.outbox.pending()
    assert [(p.idempotency_key, p.session_id, p.sheet) for p in pending] == [
        (expected[0], "7", SHEETS[0]),
        (expected[1], "7", SHEETS[1]),
    ]
    assert _progress(state) == 3

    # A process that died after saving but before recording progress: both saves still wait
    # in the outbox, and playing again adds nothing.
    (state / PROGRESS_FILE).write_text(json.dumps({"script": script.digest, "done": 0}))
    await script.play(SEAT, state, delivery, keys)
    assert [p.idempotency_key for p in await delivery.outbox.pending()] == expected

    # Once the hub's verdict is in, the outbox keeps it under the same keys: playing again
    # saves nothing a second time (the hub would only answer a replay with its verdict).
    for key in expected:
        await delivery.outbox.acknowledged(key)
    (state / PROGRESS_FILE).unlink()
    await script.play(SEAT, state, delivery, keys)
    assert await delivery.outbox.pending() == []
    assert [(v.idempotency_key, v.accepted) for v in await delivery.outbox.verdicts()] == [
        (key, True) for key in expected
    ]
    # Keys planned for the script are used once; other saves get fresh keys.
    other = await delivery.submit("7", {"part": "commercial", "entries": []})
    assert other not in expected and len(other) == 32


class FakeHub:
    """Answers each ``commitment`` the script sends with the next of ``answers``: a
    ``request_result`` (accepted, code), or ``"lost"`` (a reconnection that lost it)."""

    def __init__(self, answers: list[tuple[bool, str] | str]) -> None:
        self.answers = answers
        self.sent: list[AppMessage] = []
        self.link = ScriptCommitment(self.send, retry_s=0)

    async def up(self) -> None:
        await self.link.on_event(Connected(SEAT, lost_incoming=False, peer_lost=False))

    async def send(self, msg: AppMessage) -> AppMessage:
        self.sent.append(msg)
        answer = self.answers.pop(0)
        if answer == "lost":
            await self.link.on_event(Connected(SEAT, lost_incoming=False, peer_lost=True))
        else:
            assert isinstance(answer, tuple) and isinstance(msg, CommitmentDecision)
            accepted, code = answer
            result = RequestResult(
                ref=f"commitment:{msg.session_id}", accepted=accepted, code=code, message="…"
            )
            await self.link.on_event(MessageReceived(SEAT, result))
        return msg


def _committed(state: Path) -> bool:
    return bool(json.loads((state / PROGRESS_FILE).read_text())["committed"])


async def test_the_commitment_is_confirmed_first_and_a_repeat_is_harmless(
    tmp_path: Path, seat_outbox: tuple[ScoreDelivery, KeyPlan]
) -> None:
    delivery, keys = seat_outbox
    state = tmp_path / "seat"
    path = _write(
        tmp_path / "s.yaml",
        {"session": 7, "commitment": "confirm", "steps": [{"sheet": SHEETS[0]}]},
    )
    script = load_script(path)
    assert script.confirm_in == "7"
    expected = [script.key(SEAT, 0)]

    # Nothing is sent before the link is up; a lost connection and a transient failure at the
    # hub send it again; the save comes only after the hub recorded the commitment.
    hub = FakeHub(["lost", (False, "failed"), (True, "confirmed")])
    task = asyncio.create_task(script.play(SEAT, state, delivery, keys, hub.link))
    await asyncio.sleep(0.05)
    assert hub.sent == [] and not task.done()
    await hub.up()
    await asyncio.wait_for(task, 60)
    assert hub.sent == [CommitmentDecision(session_id="7", decision="confirmed", reason="")] * 3
    assert [p.idempotency_key for p in await delivery.outbox.pending()] == expected
    assert _committed(state) and _progress(state) == 1

    # Played again with its progress: the commitment is not sent again.
    hub = FakeHub([])
    await hub.up()
    await script.play(SEAT, state, delivery, keys, hub.link)
    assert hub.sent == []

    # A process that died before recording the hub's answer confirms again: the hub answers
    # that it is a repeat (before the start, or once confirming is over), and the script goes on.
    for code in ("already-confirmed", "not-forming"):
        (state / PROGRESS_FILE).unlink()
        hub = FakeHub([(False, code)])
        await hub.up()
        await script.play(SEAT, state, delivery, keys, hub.link)
        assert len(hub.sent) == 1 and _committed(state) and _progress(state) == 1
        assert [p.idempotency_key for p in await delivery.outbox.pending()] == expected

    # Any other refusal stops the script before its first step.
    (state / PROGRESS_FILE).unlink()
    await delivery.outbox.acknowledged(expected[0])
    hub = FakeHub([(False, "member-recused")])
    await hub.up()
    with pytest.raises(SeatAgentError) as refused:
        await script.play(SEAT, state, delivery, keys, hub.link)
    assert str(refused.value) == "评标会 7 的评标纪律承诺未被接受（member-recused）：…"
    assert await delivery.outbox.pending() == []
    assert not (state / PROGRESS_FILE).exists()
