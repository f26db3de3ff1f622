"""The scripted expert's review answers (``review`` in a ``seat-agent run --script`` file): an
explainable deviation is kept with the script's reason; a request that must be re-scored is
answered ``revise`` after the part is saved again with the value the committee settles on (the
most common one; of equally common ones the lowest), or unchanged by an expert who already
holds it; a wrong total is saved again without the written totals. Each request is answered
once, even when the hub sends it again or the agent restarts, an earlier correction of a part
survives a later one, and a refusal is logged and left to a person."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import structlog
import yaml

from seat_agent.connection import SeatLink
from seat_agent.errors import SeatAgentError
from seat_agent.keys import SeatIdentity, init_state_dir
from seat_agent.outbox import ScoreDelivery, ScoreOutbox
from seat_agent.runner import OUTBOX_FILE
from seat_agent.script import KeyPlan, ReviewPlan, ScoreScript, load_script
from seat_agent.script_reviews import (
    REVIEWS_FILE,
    ReviewDecision,
    ScriptReviews,
    decide,
    play_reviews,
    settled_value,
)
from seat_protocol.events import Connected, MessageReceived
from seat_protocol.messages import AppMessage, RequestResult, ReviewAnswer, ReviewRequestNotice

SEAT = "QJ.QJ-01"
KEEP = "按评分标准评定，理由见评审意见"
PLAN = ReviewPlan(KEEP)
COMMERCIAL: dict[str, Any] = {
    "part": "commercial",
    "entries": [
        {"subject": "b01", "item": "c1", "points": "16", "comment": "按评标办法计算"},
        {"subject": "b01", "item": "c2", "points": "9", "comment": "按评标办法计算"},
        {"subject": "b02", "item": "c1", "points": "20", "comment": "按评标办法计算"},
    ],
}
CHAPTER: dict[str, Any] = {
    "part": "ch1",
    "entries": [{"subject": "AB", "item": "1.1", "points": "8", "comment": "见评审意见"}],
    "declared_totals": {"AB": "9"},
}


def notice(
    request_id: int = 1,
    *,
    part: str = "commercial",
    subject: str = "b01",
    item: str | None = "c1",
    reason: str = "objective_inconsistent",
    yours: str = "12",
    others: tuple[str, ...] = ("16", "16", "16", "16", "16", "16"),
    explainable: bool = False,
    session_id: str = "7",
) -> ReviewRequestNotice:
    return ReviewRequestNotice(
        session_id=session_id,
        request_id=request_id,
        round=1,
        part=part,
        subject=subject,
        item=item,
        reason=reason,
        message="客观评分项不一致，须核对后统一评分",
        spread={"yours": yours, "others": list(others), "mean": "15.43"},
        explainable=explainable,
    )


# --- the value the committee settles on ----------------------------------------------------


@pytest.mark.parametrize(
    ("yours", "others", "settled"),
    [
        ("12", ["16", "16", "16", "16", "16", "16"], "16"),  # one member differs
        ("16", ["12", "16", "16", "16", "16", "16"], "16"),  # the holder of the common value
        ("8.0", ["8", "9", "9", "8"], "8.0"),  # 8 and 8.0 are one value: 3 against 2
        ("9", ["8", "8", "9", "10"], "8"),  # 8 and 9 twice each: the lowest
        ("x", ["", "7"], "7"),  # what is not a number is not counted
    ],
)
def test_the_settled_value_is_the_one_most_members_gave(
    yours: str, others: list[str], settled: str
) -> None:
    assert settled_value({"yours": yours, "others": others, "mean": "0"}) == settled


def test_a_spread_without_numbers_settles_nothing() -> None:
    assert settled_value({"yours": "", "others": []}) is None
    assert settled_value({}) is None


# --- the decision ----------------------------------------------------------------------------


def test_an_objective_item_scored_apart_is_rescored_to_the_settled_value() -> None:
    decision = decide(notice(), {**COMMERCIAL, "entries": _with(COMMERCIAL, "12")}, PLAN)
    assert decision.answer == "revise"
    assert decision.reason == "已核对，c1 由 12 更正为评标委员会一致的 16，重新提交"
    assert decision.sheet is not None
    assert decision.sheet["entries"][0] == {
        "subject": "b01",
        "item": "c1",
        "points": "16",
        "comment": "按评标办法计算；复核更正：按评标委员会核对一致的分值 16",
    }
    assert decision.sheet["entries"][1:] == COMMERCIAL["entries"][1:]  # the rest as saved


def test_a_member_holding_the_settled_value_saves_the_part_again_unchanged() -> None:
    decision = decide(
        notice(yours="16", others=("12", "16", "16", "16", "16", "16")), COMMERCIAL, PLAN
    )
    assert decision == ReviewDecision(
        "revise", "已核对，c1 的评分 16 与评标委员会一致，重新提交本部分评分", COMMERCIAL
    )
    assert decision.sheet is not COMMERCIAL  # a copy: the script's own sheet never changes


def test_an_explainable_deviation_is_kept_with_the_scripts_reason() -> None:
    request = notice(part="ch1", subject="AB", item="1.1", reason="deviation", explainable=True)
    assert decide(request, CHAPTER, PLAN) == ReviewDecision("keep", KEEP, None)


def test_a_wrong_total_is_saved_again_without_the_written_totals() -> None:
    request = notice(part="ch1", subject="AB", item=None, reason="summation_error")
    decision = decide(request, CHAPTER, PLAN)
    assert decision == ReviewDecision(
        "revise",
        "已核对各项得分，合计由系统计算，重新提交本部分评分",
        {"part": "ch1", "entries": CHAPTER["entries"]},
    )
    assert "declared_totals" in CHAPTER


def test_a_score_out_of_range_is_set_to_the_committees_value() -> None:
    request = notice(
        part="ch1", subject="AB", item="1.1", reason="out_of_range", yours="12",
        others=("8", "8.5", "8", "7.5", "8", "8.5"),
    )  # fmt: skip
    decision = decide(
        request, {**CHAPTER, "entries": [{**CHAPTER["entries"][0], "points": "12"}]}, PLAN
    )
    assert decision.answer == "revise"
    assert decision.sheet is not None and decision.sheet["entries"][0]["points"] == "8"


def _with(sheet: dict[str, Any], c1: str) -> list[dict[str, str]]:
    entries = [dict(e) for e in sheet["entries"]]
    entries[0]["points"] = c1
    return entries


# --- the script file -------------------------------------------------------------------------


def _write(path: Path, data: object) -> Path:
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def test_review_is_read_from_the_script(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "s.yaml", {"session": 7, "review": {"keep_reason": f" {KEEP} "}, "steps": []}
    )
    assert load_script(path).reviewing == PLAN
    path = _write(tmp_path / "s.yaml", {"session": 7, "steps": []})
    assert load_script(path).reviewing is None


@pytest.mark.parametrize(
    ("review", "message"),
    [
        ("keep", "review 须是只含 keep_reason（保留原评分时的书面理由）的映射"),
        ({"keep_reason": KEEP, "rescore": True},
         "review 须是只含 keep_reason（保留原评分时的书面理由）的映射"),
        ({"keep_reason": 3}, "review 须是只含 keep_reason（保留原评分时的书面理由）的映射"),
        ({"keep_reason": "  "}, "review 的 keep_reason 不能为空：保留原评分须书面说明理由"),
    ],
)  # fmt: skip
def test_a_bad_review_is_refused_with_what_is_wrong(
    tmp_path: Path, review: object, message: str
) -> None:
    path = _write(tmp_path / "s.yaml", {"session": "7", "review": review, "steps": []})
    with pytest.raises(SeatAgentError) as caught:
        load_script(path)
    assert str(caught.value) == f"评分脚本 {path} 无效：{message}"


# --- playing the answers over a link ---------------------------------------------------------


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
    """Answers each ``review_answer`` with the next of ``answers``: (accepted, code), or
    ``"lost"`` (a reconnection that lost it, so the script sends it again)."""

    def __init__(self, answers: list[tuple[bool, str] | str]) -> None:
        self.answers = answers
        self.sent: list[AppMessage] = []
        self.link = ScriptReviews(self.send, retry_s=0)

    async def up(self) -> None:
        await self.link.on_event(Connected(SEAT, lost_incoming=False, peer_lost=False))

    async def tell(self, request: ReviewRequestNotice) -> None:
        await self.link.on_event(MessageReceived(SEAT, request))

    async def send(self, msg: AppMessage) -> AppMessage:
        self.sent.append(msg)
        answer = self.answers.pop(0)
        if answer == "lost":
            await self.link.on_event(Connected(SEAT, lost_incoming=False, peer_lost=True))
        else:
            assert isinstance(answer, tuple) and isinstance(msg, ReviewAnswer)
            accepted, code = answer
            result = RequestResult(
                ref=f"review:{msg.request_id}", accepted=accepted, code=code, message="复核答复"
            )
            await self.link.on_event(MessageReceived(SEAT, result))
        return msg


def _script(tmp_path: Path, c1: str = "12") -> ScoreScript:
    sheet = {**COMMERCIAL, "entries": _with(COMMERCIAL, c1)}
    data = {
        "session": "7",
        "review": {"keep_reason": KEEP},
        "steps": [{"sheet": sheet}, {"sheet": CHAPTER}],
    }
    return load_script(_write(tmp_path / "s.yaml", data))


async def _until(condition: Any, what: str) -> None:
    for _ in range(3000):  # the bound only turns a hang into a failure
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"never happened: {what}")


async def test_the_script_rescores_keeps_and_answers_each_request_once(
    tmp_path: Path, identity: SeatIdentity, seat_outbox: tuple[ScoreDelivery, KeyPlan]
) -> None:
    delivery, keys = seat_outbox
    state = identity.state_dir
    script = _script(tmp_path)
    hub = FakeHub(["lost", (True, "answered"), (True, "answered"), (False, "not-in-review")])
    await hub.up()
    with structlog.testing.capture_logs() as logs:
        task = asyncio.create_task(play_reviews(script, SEAT, state, delivery, keys, hub.link))
        await hub.tell(notice(1))
        await hub.tell(notice(1))  # sent again (a catch-up): answered once
        await hub.tell(
            notice(2, part="ch1", subject="AB", item="1.1", reason="deviation", explainable=True)
        )
        await hub.tell(notice(3, subject="b02", yours="20", others=("16",) * 6))
        await hub.tell(notice(4, session_id="8"))  # another session: not this script's part
        await _until(lambda: len(hub.sent) == 4, "four answers sent")
        await _until(lambda: not hub.answers, "the hub answered them all")
        await asyncio.sleep(0.05)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    # #1: the part saved again with c1 at 16 under the request's key, then "revise" (sent
    # twice: the first was lost with the connection); #2 kept; #3 corrected to 16 as well.
    pending = await delivery.outbox.pending()
    assert [p.idempotency_key for p in pending] == [
        script.key(SEAT, 1, kind="seat-script-review"),
        script.key(SEAT, 3, kind="seat-script-review"),
    ]
    assert [(e["subject"], e["item"], e["points"]) for e in pending[0].sheet["entries"]] == [
        ("b01", "c1", "16"), ("b01", "c2", "9"), ("b02", "c1", "20"),
    ]  # fmt: skip
    # The second correction of the part keeps the first.
    assert [(e["subject"], e["item"], e["points"]) for e in pending[1].sheet["entries"]] == [
        ("b01", "c1", "16"), ("b01", "c2", "9"), ("b02", "c1", "16"),
    ]  # fmt: skip
    answers = [(m.request_id, m.answer, m.reason) for m in hub.sent if isinstance(m, ReviewAnswer)]
    assert answers == [
        (1, "revise", "已核对，c1 由 12 更正为评标委员会一致的 16，重新提交"),
        (1, "revise", "已核对，c1 由 12 更正为评标委员会一致的 16，重新提交"),
        (2, "keep", KEEP),
        (3, "revise", "已核对，c1 由 20 更正为评标委员会一致的 16，重新提交"),
    ]
    events = [
        (e["event"], e.get("request")) for e in logs if e["event"].startswith("seat.script_review")
    ]
    assert events == [
        ("seat.script_review_resent", None),  # after the lost connection
        ("seat.script_review_answered", 1),
        ("seat.script_review_answered", 2),
        ("seat.script_review_refused", 3),  # left to a person, with the hub's reason
        ("seat.script_review_not_mine", 4),
    ]
    recorded = json.loads((state / REVIEWS_FILE).read_text())
    assert recorded["answered"] == [1, 2, 3]

    # Started again: the hub sends the requests again; none is answered or saved twice, and
    # a new request about the part corrects the part as last saved.
    hub = FakeHub([(False, "already-answered")])
    await hub.up()
    task = asyncio.create_task(play_reviews(script, SEAT, state, delivery, keys, hub.link))
    for n in (1, 2, 3):
        await hub.tell(notice(n))
    await hub.tell(notice(5, subject="b01", item="c2", yours="9", others=("8",) * 6))
    await _until(lambda: len(hub.sent) == 1, "the new request answered")
    await asyncio.sleep(0.05)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert [m.request_id for m in hub.sent if isinstance(m, ReviewAnswer)] == [5]
    last = (await delivery.outbox.pending())[-1].sheet
    assert [(e["subject"], e["item"], e["points"]) for e in last["entries"]] == [
        ("b01", "c1", "16"), ("b01", "c2", "8"), ("b02", "c1", "16"),
    ]  # fmt: skip


async def test_without_review_the_script_leaves_requests_to_a_person(
    tmp_path: Path, identity: SeatIdentity, seat_outbox: tuple[ScoreDelivery, KeyPlan]
) -> None:
    delivery, keys = seat_outbox
    path = _write(tmp_path / "s.yaml", {"session": "7", "steps": [{"sheet": COMMERCIAL}]})
    hub = FakeHub([])
    await hub.up()
    await hub.tell(notice(1))
    await asyncio.wait_for(
        play_reviews(load_script(path), SEAT, identity.state_dir, delivery, keys, hub.link), 10
    )
    assert hub.sent == []
    assert await delivery.outbox.pending() == []
