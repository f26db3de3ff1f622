"""Which deviation share the review applies (畸高畸低的认定比例): the bid package's own when its
evaluation method sets one, else the share the hub is configured with (``Regulation.review``);
and what it compares: each expert's part total per bidder by default, every item as well when
the hub is configured so (``deviation_basis``).

The hub here is configured with 5 % (a province may set its own); one expert scores b01's item
1.1 one point above the others (8 against 7): 0.8 from the mean 7.2, within 30 % of it, beyond
5 %.
"""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from evaluation_hub.api.app import create_app
from evaluation_hub.config import HubConfig
from evaluation_hub.db.engine import Database
from evaluation_hub.errors import ConfigError
from evaluation_hub.regulation import DeviationBasis, Regulation, ReviewRules
from tests.conftest import FakeClock
from tests.evaluation.helpers import DEMO_PACKAGE, Client, act, attach, hub_shuffle, new_session
from tests.evaluation.helpers import start as start_review
from tests.evaluation.test_review_and_signing import _points, _score_all
from tests.hub.helpers import login

CONFIGURED = Decimal("0.05")


@pytest.fixture
def basis() -> DeviationBasis:
    return "part_total"


@pytest.fixture
async def strict(
    database: Database, clock: FakeClock, tmp_path: Path, basis: DeviationBasis
) -> AsyncIterator[TestClient[Any, Any]]:
    """The hub configured with a 5 % deviation share, compared on ``basis``."""
    config = HubConfig(
        database_url=database.url,
        token_secret="t" * 40,
        sealing_key_file=tmp_path / "sealing.key",
        hub_key_file=tmp_path / "hub-key.pem",
        recordings_dir=tmp_path / "recordings",
        regulation=Regulation(
            review=ReviewRules(deviation_share=CONFIGURED, deviation_basis=basis)
        ),
    )
    app = create_app(config, db=database, clock=clock, sweep=False)
    async with TestClient(TestServer(app)) as test_client:
        yield test_client


def _without_own_share(tmp_path: Path) -> Path:
    """The demo package, its evaluation method setting no deviation share."""
    copy = tmp_path / "bid_package"
    shutil.copytree(DEMO_PACKAGE, copy)
    document = copy / "package.yaml"
    lines = document.read_text(encoding="utf-8").splitlines(keepends=True)
    kept = [line for line in lines if not line.strip().startswith("deviation_share:")]
    assert len(kept) == len(lines) - 1
    document.write_text("".join(kept), encoding="utf-8")
    return copy


async def _round(
    client: Client, database: Database, seeded: dict[str, Any], package: Path
) -> list[dict[str, Any]]:
    host = await login(client, "km_operator")
    sid = await new_session(client, host, seeded)
    await act(client, host, sid, "confirm_seats", "open_check_in")
    assert (await attach(client, host, sid, package)).status == 201
    resp = await client.post(
        f"/api/sessions/{sid}/evaluation/overrides",
        json={"bidder_id": "b03", "chapter_id": "ch2", "reason": "经监督人员确认放行"},
        headers=host,
    )
    assert resp.status == 201, await resp.text()
    await start_review(client, host, sid)
    shuffle = await hub_shuffle(client, database, sid)
    await _score_all(client, host, sid, shuffle, {"E03": _points(**{"b01_1.1": "8"})})
    resp = await client.post(f"/api/sessions/{sid}/evaluation/review", headers=host)
    assert resp.status == 201, await resp.text()
    created: list[dict[str, Any]] = (await resp.json())["created"]
    return created


async def test_the_configured_share_applies_when_the_package_sets_none(
    strict: Client, seeded: dict[str, Any], database: Database, tmp_path: Path
) -> None:
    created = await _round(strict, database, seeded, _without_own_share(tmp_path))
    # On part totals (the default): the chapter 1 total, 11.5 against 10.5 ×4: mean 53/5 =
    # 10.6, 5 % = 0.53, |11.5 − 10.6| = 0.9 → flagged; the others' 0.1 → not.
    assert [(r["expert"], r["reason"], r["part"], r["item"]) for r in created] == [
        ("E03", "deviation", "ch1", None),
    ]
    assert all(r["message"].endswith("超过 5%，须复核或书面说明") for r in created)


@pytest.mark.parametrize("basis", ["item"])
async def test_items_are_checked_too_when_the_hub_is_configured_so(
    strict: Client, seeded: dict[str, Any], database: Database, tmp_path: Path
) -> None:
    created = await _round(strict, database, seeded, _without_own_share(tmp_path))
    # The item (8 against 7 ×4: mean 7.2, |8 − 7.2| = 0.8 > 5 % of 7.2 = 0.36) and the
    # chapter total (0.9 > 0.53, as above).
    assert [(r["expert"], r["reason"], r["part"], r["item"]) for r in created] == [
        ("E03", "deviation", "ch1", "1.1"),
        ("E03", "deviation", "ch1", None),
    ]


async def test_the_package_s_own_share_wins_over_the_configured_one(
    strict: Client, seeded: dict[str, Any], database: Database
) -> None:
    # The demo package's evaluation method sets 30 %: the same scores raise nothing.
    assert await _round(strict, database, seeded, DEMO_PACKAGE) == []


def test_the_basis_is_part_totals_by_default_and_nothing_else_is_taken() -> None:
    assert ReviewRules().deviation_basis == "part_total"
    with pytest.raises(ConfigError) as caught:
        ReviewRules(deviation_basis="chapter")  # type: ignore[arg-type]
    assert str(caught.value) == ("review deviation_basis must be part_total or item, got 'chapter'")
