"""The scripted demo runs its evaluation now: started near or past the evening cut-off
(开评分离, 22:00 Beijing time), the hub paused it at once and the demo waited for the host
forever ("评标会当前状态为「已暂停」"). The demo moves its own cut-off to 23:59 then, and says so;
the rule itself is unchanged (tests/sessions)."""

from __future__ import annotations

from datetime import UTC, datetime, time
from pathlib import Path

import pytest

from evaluation_hub.config import HubConfig
from evaluation_hub.demo.cli import late_evening
from evaluation_hub.sessions import cutoff
from evaluation_hub.sessions.states import S

EVALUATING = S.EVALUATING


def _config(tmp_path: Path) -> HubConfig:
    return HubConfig.from_env(state_dir=tmp_path, database_url="sqlite+aiosqlite:///x.db")


@pytest.mark.parametrize(
    ("utc", "moved"),
    [
        (datetime(2026, 12, 5, 6, 0, tzinfo=UTC), False),  # 14:00 Beijing
        (datetime(2026, 12, 5, 12, 59, tzinfo=UTC), False),  # 20:59
        (datetime(2026, 12, 5, 13, 0, tzinfo=UTC), True),  # 21:00: an hour before
        (datetime(2026, 12, 5, 15, 2, tzinfo=UTC), True),  # 23:02, this round's playthrough
    ],
)
def test_the_demo_moves_its_cut_off_only_near_or_past_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], utc: datetime, moved: bool
) -> None:
    config = _config(tmp_path)
    got = late_evening(config, utc)
    said = capsys.readouterr().out
    if not moved:
        assert got is config and said == ""
        return
    assert got.regulation.evening_cutoff.at == time(23, 59)
    assert got.regulation.evening_cutoff.warn_before == config.regulation.evening_cutoff.warn_before
    assert "开评分离截止时间 22:00（北京时间），本次演示的截止时间临时改为 23:59" in said
    # What the hub's timer then decides for an evaluation under way at that moment.
    assert cutoff.decide(EVALUATING, utc, got.regulation.evening_cutoff) is None
    before = cutoff.decide(EVALUATING, utc, config.regulation.evening_cutoff)
    assert before is None if utc.hour == 13 else before is not None and before.kind == "pause"
