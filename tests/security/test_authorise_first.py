"""Authorise before any work (issue 12, item 2): who may act is asked before the state of what
they act on, so a refusal for lack of right never tells the state (the matrix,
``test_matrix.py``, asks this of every operation; these are the cases that told it before).

Before issue 12 the session's lifecycle checked the state first: an away supervisor, or any
venue's staff, asking to move a session learned "评标会当前状态为「签到中」…" (409)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from evaluation_hub.sessions import lifecycle
from evaluation_hub.sessions.errors import SessionRuleError
from evaluation_hub.sessions.lifecycle import SessionStatus
from evaluation_hub.sessions.states import SessionState
from tests.conftest import FakeClock
from tests.hub.helpers import problem
from tests.security.story import bearer

Client = TestClient[Any, Any]
NOW = datetime(2026, 12, 1, 1, 0, tzinfo=UTC)


@pytest.mark.parametrize("state", [s for s in SessionState if s != SessionState.PAUSED])
@pytest.mark.parametrize("action", list(lifecycle.TRANSITIONS))
def test_the_lifecycle_refuses_the_wrong_site_the_same_in_every_state(
    state: SessionState, action: str
) -> None:
    with pytest.raises(SessionRuleError) as refused:
        lifecycle.transition(
            SessionStatus(state),
            action,
            actor_role="supervisor",
            actor_site_is_host=False,
            now=NOW,
            reason="原因",
        )
    assert (refused.value.code, refused.value.status) == ("not-host-site", 403)
    assert "状态" not in refused.value.detail


@pytest.mark.parametrize("state", [s for s in SessionState if s != SessionState.PAUSED])
def test_the_lifecycle_refuses_the_wrong_role_the_same_in_every_state(
    state: SessionState,
) -> None:
    with pytest.raises(SessionRuleError) as refused:
        lifecycle.transition(
            SessionStatus(state),
            "start_evaluation",
            actor_role="venue_admin",
            actor_site_is_host=True,
            now=NOW,
        )
    assert (refused.value.code, refused.value.status, refused.value.detail) == (
        "role-not-allowed",
        403,
        "场地管理员不能开始评审，需由主场业务人员执行",
    )


async def test_staff_who_may_not_move_a_session_do_not_learn_its_state(
    client: Client, seeded: dict[str, Any], clock: FakeClock
) -> None:
    now = clock()
    url = f"/api/sessions/{seeded['session']}/actions"
    refusals = {
        # an away site's supervisor, and a venue that has nothing to do with the session
        "qj_supervisor": ("not-host-site", "只有主场可以开始评审，客场人员不能操作评标会进程"),
        "dl_admin": ("not-host-site", "只有主场可以开始评审，客场人员不能操作评标会进程"),
        # the host's own venue admin and supervisor: the wrong role
        "km_admin": ("role-not-allowed", "场地管理员不能开始评审，需由主场业务人员执行"),
        "km_supervisor": ("role-not-allowed", "监督人员不能开始评审，需由主场业务人员执行"),
    }
    for user, (code, detail) in refusals.items():
        resp = await client.post(
            url, json={"action": "start_evaluation"}, headers=bearer(seeded, user, now)
        )
        body = await problem(resp, 403)
        assert (body["type"].rsplit("/", 1)[1], body["detail"]) == (code, detail), user
    # The host operator, who may, is told why not now.
    resp = await client.post(
        url, json={"action": "start_evaluation"}, headers=bearer(seeded, "km_operator", now)
    )
    assert (await problem(resp, 409))["detail"] == (
        "评标会当前状态为「已排期」，不能开始评审；当前可执行：确认工位、取消评标会"
    )
