"""The scripted expert's report signature (``sign`` in a ``seat-agent run --script`` file): the
script signs only once the hub sent the report of its session, with the seat's own key over the
document the hub verifies (the one the expert's page signs), sends it again after a lost
connection or a transient failure, counts a repeat the hub answers as such as signed, stops on
any other refusal, and never signs again once its progress records the answer."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from scoring.signing import signature_document, verify
from seat_agent.connection import SeatLink
from seat_agent.errors import SeatAgentError
from seat_agent.keys import SeatIdentity, init_state_dir
from seat_agent.outbox import ScoreDelivery, ScoreOutbox
from seat_agent.page.desk import ExpertDesk, report_signature
from seat_agent.runner import OUTBOX_FILE
from seat_agent.script import (
    PROGRESS_FILE,
    KeyPlan,
    ScoreScript,
    ScriptSignature,
    SignPlan,
    load_script,
)
from seat_protocol.events import Connected, MessageReceived
from seat_protocol.messages import AppMessage, ReportForSignature, ReportSignature, RequestResult

SEAT = "DL.DL-01"
SHEET = {"part": "ch1", "entries": []}
RESULT: dict[str, Any] = {"ranking": [{"bidder": "b05", "composite": "85.48"}]}


def _write(path: Path, data: object) -> Path:
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def _report(session_id: str = "7") -> MessageReceived:
    return MessageReceived(
        SEAT, ReportForSignature(session_id=session_id, expert_code="E03", result=RESULT)
    )


@pytest.fixture
def identity(tmp_path: Path) -> SeatIdentity:
    return init_state_dir(
        tmp_path / "seat", seat_id=SEAT, hub_url="ws://127.0.0.1:9/ws/seat", hub_id="hub"
    )


@pytest.fixture
async def seat_outbox(identity: SeatIdentity) -> AsyncIterator[tuple[ScoreDelivery, KeyPlan]]:
    """A real outbox; the link is never run, so saves stay in the outbox (as offline)."""
    keys = KeyPlan(lambda: uuid.uuid4().hex)
    outbox = await ScoreOutbox.open(identity.state_dir / OUTBOX_FILE, new_key=keys)
    try:
        yield ScoreDelivery(outbox, SeatLink(identity)), keys
    finally:
        await outbox.close()


class FakeHub:
    """Answers each ``report_signature`` the script sends with the next of ``answers``: a
    ``request_result`` (accepted, code), or ``"lost"`` (a reconnection that lost it)."""

    def __init__(self, identity: SeatIdentity, answers: list[tuple[bool, str] | str]) -> None:
        self.answers = answers
        self.sent: list[AppMessage] = []
        self.link = ScriptSignature(self.send, identity, retry_s=0)

    async def up(self) -> None:
        await self.link.on_event(Connected(SEAT, lost_incoming=False, peer_lost=False))

    async def send(self, msg: AppMessage) -> AppMessage:
        self.sent.append(msg)
        answer = self.answers.pop(0)
        if answer == "lost":
            await self.link.on_event(Connected(SEAT, lost_incoming=False, peer_lost=True))
        else:
            assert isinstance(answer, tuple) and isinstance(msg, ReportSignature)
            accepted, code = answer
            result = RequestResult(
                ref=f"signature:{msg.session_id}", accepted=accepted, code=code, message="…"
            )
            await self.link.on_event(MessageReceived(SEAT, result))
        return msg


def _progress(state: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((state / PROGRESS_FILE).read_text())
    return data


@pytest.mark.parametrize(
    ("sign", "message"),
    [
        ("yes", "sign 只能是 agree，或含 decision（agree 或 disagree）和 reason 的映射"),
        ({"decision": "refuse"},
         "sign 只能是 agree，或含 decision（agree 或 disagree）和 reason 的映射"),
        ({"decision": "agree", "reason": 3},
         "sign 只能是 agree，或含 decision（agree 或 disagree）和 reason 的映射"),
        ({"decision": "agree", "key": "x"},
         "sign 只能是 agree，或含 decision（agree 或 disagree）和 reason 的映射"),
        ("disagree", "sign 为 disagree 时须书面说明不同意见和理由（reason）"),
        ({"decision": "disagree", "reason": "  "},
         "sign 为 disagree 时须书面说明不同意见和理由（reason）"),
    ],
)  # fmt: skip
def test_a_bad_sign_is_refused_with_what_is_wrong(
    tmp_path: Path, sign: object, message: str
) -> None:
    path = _write(tmp_path / "s.yaml", {"session": "7", "sign": sign, "steps": []})
    with pytest.raises(SeatAgentError) as caught:
        load_script(path)
    assert str(caught.value) == f"评分脚本 {path} 无效：{message}"


def test_sign_needs_the_session(tmp_path: Path) -> None:
    path = _write(tmp_path / "s.yaml", {"sign": "agree", "steps": []})
    with pytest.raises(SeatAgentError) as caught:
        load_script(path)
    assert str(caught.value) == f"评分脚本 {path} 无效：有 sign 时须指明评标会（session）"


def test_sign_is_read_as_a_decision_and_reasons(tmp_path: Path) -> None:
    def plan(sign: object) -> SignPlan | None:
        path = _write(tmp_path / "s.yaml", {"session": 7, "sign": sign, "steps": []})
        return load_script(path).signing

    assert plan("agree") == SignPlan("7", "agree", "")
    assert plan({"decision": "disagree", "reason": " 价格分计算有误 "}) == SignPlan(
        "7", "disagree", "价格分计算有误"
    )
    path = _write(tmp_path / "s.yaml", {"session": 7, "steps": []})
    assert load_script(path).signing is None


async def test_the_script_signs_the_report_with_the_seats_key_once_it_comes(
    tmp_path: Path, identity: SeatIdentity, seat_outbox: tuple[ScoreDelivery, KeyPlan]
) -> None:
    delivery, keys = seat_outbox
    state = identity.state_dir
    path = _write(tmp_path / "s.yaml", {"session": 7, "sign": "agree", "steps": [{"sheet": SHEET}]})
    script = load_script(path)

    # The save is made, then the script waits for the report of its own session; a lost
    # connection and a transient failure at the hub send the signature again.
    hub = FakeHub(identity, ["lost", (False, "failed"), (True, "signed")])
    await hub.up()
    task = asyncio.create_task(script.play(SEAT, state, delivery, keys, signature=hub.link))
    for _ in range(3000):
        if (state / PROGRESS_FILE).exists() and _progress(state)["done"] == 1:
            break
        await asyncio.sleep(0.01)
    await hub.link.on_event(_report("8"))  # another session's report is not this script's
    await asyncio.sleep(0.05)
    assert hub.sent == [] and not task.done()
    assert _progress(state)["signed"] is False
    await hub.link.on_event(_report())
    await asyncio.wait_for(task, 60)
    assert len(await delivery.outbox.pending()) == 1

    # What the expert's page sends on 签署, made with the seat's key over the hub's document.
    first = hub.sent[0]
    assert isinstance(first, ReportSignature)
    assert hub.sent == [first] * 3
    report = _report().message
    assert isinstance(report, ReportForSignature)
    assert first == report_signature(identity, report, "agree", "")
    assert (first.session_id, first.decision, first.reason) == ("7", "agree", "")
    assert first.public_key == identity.ed25519_public.hex()
    verify(
        Ed25519PublicKey.from_public_bytes(bytes.fromhex(first.public_key)),
        signature_document("7", "E03", True, "", RESULT),
        bytes.fromhex(first.signature),
    )
    assert _progress(state) == {
        "script": script.digest, "committed": False, "done": 1, "signed": True
    }  # fmt: skip

    # Played again with its progress: nothing is signed again, no report is awaited.
    hub = FakeHub(identity, [])
    await hub.up()
    await asyncio.wait_for(script.play(SEAT, state, delivery, keys, signature=hub.link), 60)
    assert hub.sent == []


async def test_a_disagreement_is_signed_with_its_reasons(
    tmp_path: Path, identity: SeatIdentity, seat_outbox: tuple[ScoreDelivery, KeyPlan]
) -> None:
    delivery, keys = seat_outbox
    sign = {"decision": "disagree", "reason": "b03 的技术分偏低"}
    script = load_script(_write(tmp_path / "s.yaml", {"session": 7, "sign": sign, "steps": []}))
    hub = FakeHub(identity, [(True, "signed")])
    await hub.up()
    await hub.link.on_event(_report())  # a report that came before the script got there
    await asyncio.wait_for(
        script.play(SEAT, identity.state_dir, delivery, keys, signature=hub.link), 60
    )
    [sent] = hub.sent
    assert isinstance(sent, ReportSignature)
    assert (sent.decision, sent.reason) == ("disagree", "b03 的技术分偏低")
    verify(
        identity.ed25519.public_key(),
        signature_document("7", "E03", False, "b03 的技术分偏低", RESULT),
        bytes.fromhex(sent.signature),
    )


@pytest.mark.parametrize("code", ["already-signed", "not-signing"])
async def test_a_repeated_signature_is_harmless(
    tmp_path: Path,
    identity: SeatIdentity,
    seat_outbox: tuple[ScoreDelivery, KeyPlan],
    code: str,
) -> None:
    """A process killed between the hub's answer and its progress record signs again when the
    report comes again: the hub answers it as a repeat (or, once all signed, that signing is
    over), and the script counts it as signed."""
    delivery, keys = seat_outbox
    state = identity.state_dir
    script = load_script(_write(tmp_path / "s.yaml", {"session": 7, "sign": "agree", "steps": []}))
    hub = FakeHub(identity, [(False, code)])
    await hub.up()
    await hub.link.on_event(_report())
    await asyncio.wait_for(script.play(SEAT, state, delivery, keys, signature=hub.link), 60)
    assert len(hub.sent) == 1 and _progress(state)["signed"] is True


async def test_any_other_refusal_stops_the_script(
    tmp_path: Path, identity: SeatIdentity, seat_outbox: tuple[ScoreDelivery, KeyPlan]
) -> None:
    delivery, keys = seat_outbox
    state = identity.state_dir
    script = load_script(_write(tmp_path / "s.yaml", {"session": 7, "sign": "agree", "steps": []}))
    hub = FakeHub(identity, [(False, "key-mismatch")])
    await hub.up()
    await hub.link.on_event(_report())
    with pytest.raises(SeatAgentError) as refused:
        await script.play(SEAT, state, delivery, keys, signature=hub.link)
    assert str(refused.value) == "评标会 7 的评标报告签署未被接受（key-mismatch）：…"
    assert not (state / PROGRESS_FILE).exists()  # not recorded as signed


async def test_a_script_that_signs_needs_the_link_before_its_first_step(
    tmp_path: Path, identity: SeatIdentity, seat_outbox: tuple[ScoreDelivery, KeyPlan]
) -> None:
    delivery, keys = seat_outbox
    path = _write(tmp_path / "s.yaml", {"session": 7, "sign": "agree", "steps": [{"sheet": SHEET}]})
    script = load_script(path)
    assert isinstance(script, ScoreScript)
    with pytest.raises(SeatAgentError) as caught:
        await script.play(SEAT, identity.state_dir, delivery, keys)
    assert str(caught.value) == "评分脚本要求签署评标报告，但没有连接主场的链路"
    assert await delivery.outbox.pending() == []


async def test_the_script_sends_what_the_experts_page_sends(
    identity: SeatIdentity, seat_outbox: tuple[ScoreDelivery, KeyPlan]
) -> None:
    """One code path: the page's 签署 and the script make the same ``report_signature``."""
    delivery, _ = seat_outbox
    sent: list[AppMessage] = []

    async def send(msg: AppMessage) -> AppMessage:
        sent.append(msg)
        return msg

    desk = ExpertDesk(identity, delivery, send)
    await desk.on_event(Connected(SEAT, lost_incoming=False, peer_lost=False))
    await desk.on_event(_report())
    await desk.sign("disagree", " b03 的技术分偏低 ")
    report = _report().message
    assert isinstance(report, ReportForSignature)
    assert sent == [report_signature(identity, report, "disagree", "b03 的技术分偏低")]
