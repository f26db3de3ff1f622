"""``/metrics`` after a small scripted evaluation: the names and values an operator reads, and
nobody but an operator reads them (404 to anyone else, as for an address that does not exist)."""

from __future__ import annotations

import dataclasses
from typing import Any

from aiohttp.test_utils import TestClient, TestServer
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import func, select

from evaluation_hub.api.app import create_app
from evaluation_hub.api.keys import CONFIG
from evaluation_hub.audit.models import AuditEventRow
from evaluation_hub.config import HubConfig
from evaluation_hub.db.engine import Database
from evaluation_hub.supervision.workdays import covered_until
from scoring.model import COMMERCIAL_PART
from tests.conftest import FakeClock
from tests.e2e.conftest import until
from tests.evaluation.helpers import (
    act,
    attach,
    demo_package,
    hub_shuffle,
    new_session,
    part_save,
    proxy,
    start,
)
from tests.hub.helpers import login, problem

Client = TestClient[Any, Any]
MID = {"1.1": "7", "1.2": "3.5", "2.1": "6", "2.2": "5", "3.1": "4", "3.2": "3"}
BIDDERS = ("b01", "b02", "b03", "b04", "b05")


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of the exposition, by (name, sorted labels)."""
    found = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            found[s.name, tuple(sorted(s.labels.items()))] = s.value
    return found


def points(**changes: str) -> dict[tuple[str, str], str]:
    values = {(b, i): v for b in BIDDERS for i, v in MID.items()}
    for b in BIDDERS:
        values[b, "c1"], values[b, "c2"] = "12", "5"
    for key, value in changes.items():
        bidder, item = key.split("_")
        values[bidder, item] = value
    return values


async def test_metrics_after_a_scripted_evaluation(
    client: Client, seeded: dict[str, Any], database: Database, clock: FakeClock
) -> None:
    host = await login(client, "km_operator")
    sid = await new_session(client, host, seeded)
    base = f"/api/sessions/{sid}/evaluation"
    await act(client, host, sid, "confirm_seats", "open_check_in")
    assert (await attach(client, host, sid)).status == 201
    resp = await client.post(
        f"{base}/overrides",
        json={"bidder_id": "b03", "chapter_id": "ch2", "reason": "经监督人员确认放行"},
        headers=host,
    )
    assert resp.status == 201, await resp.text()
    await start(client, host, sid)
    shuffle = await hub_shuffle(client, database, sid)
    package = demo_package()
    saves = 0
    for expert in shuffle.manifest.expert_ids:
        odd = points(b03_c2="6") if expert == "E03" else points()
        for part in (*package.chapter_ids, COMMERCIAL_PART):
            save = proxy(part_save(package, shuffle, expert, part, odd))
            resp = await client.post(f"{base}/scores", json=save, headers=host)
            assert resp.status == 201, await resp.text()
            saves += 1
    # One save refused by the use case (an expert not on the committee): a refusal and a save.
    stranger = proxy(part_save(package, shuffle, "E01", COMMERCIAL_PART, points()))
    resp = await client.post(f"{base}/scores", json=stranger | {"expert": "E99"}, headers=host)
    refused = await problem(resp, 422)
    resp = await client.post(f"{base}/review", headers=host)
    assert resp.status == 201, await resp.text()
    # A refusal outside the evaluation: an unknown session.
    await problem(await client.get("/api/sessions/9999", headers=host), 404)

    resp = await client.get("/metrics")
    assert resp.status == 200, await resp.text()
    assert resp.headers["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
    found = samples(await resp.text())
    async with database.read() as s:
        chain = await s.scalar(select(func.max(AuditEventRow.seq)))

    def value(name: str, **labels: str) -> float:
        return found[name, tuple(sorted(labels.items()))]

    assert value("evalhub_score_saves_total", source="host", outcome="accepted") == saves
    assert value("evalhub_score_saves_total", source="host", outcome="refused") == 1
    assert value("evalhub_score_save_seconds_count", source="host") == saves + 1
    assert value("evalhub_score_save_seconds_bucket", source="host", le="+Inf") == saves + 1
    assert (
        value("evalhub_refusals_total", status="422", reason=refused["type"].rsplit("/", 1)[1]) == 1
    )
    assert value("evalhub_refusals_total", status="404", reason="session-not-found") == 1
    assert value("evalhub_sessions", state="deviation_review") == 1
    assert value("evalhub_sessions", state="evaluating") == 0
    # E03 is asked about b03's c2; the four others are only told (not open requests).
    assert value("evalhub_review_requests_open") == 1
    assert value("evalhub_audit_chain_length") == chain
    # The client fixture checkpoints every 2 events, but only when the (unstarted) timer runs.
    assert ("evalhub_audit_checkpoint_age_seconds", ()) not in found
    assert value("evalhub_calendar_coverage_days") == (covered_until() - clock().date()).days
    assert value("evalhub_db_up") == 1

    # No connection is left checked out: work a request started after its answer (event
    # publication) may still hold one at the first scrape on a loaded machine, so scrape until
    # it is back (a leaked connection never is).
    async def pool_idle() -> bool:
        again = samples(await (await client.get("/metrics")).text())
        return again["evalhub_db_pool_checked_out", ()] == 0

    await until(pool_idle, "every database connection back in the pool")
    # The readiness checks, run for the scrape: the calendar's depends on the installed years.
    days_left = (covered_until() - clock().date()).days
    assert value("evalhub_ready") == int(days_left >= 60)
    assert value("evalhub_ready_check", check="calendar") == int(days_left >= 60)
    for check in ("database", "media"):
        assert value("evalhub_ready_check", check=check) == 1
    assert value("evalhub_bus_up") == 1
    assert value("evalhub_live_running") == 1
    assert value("evalhub_live_seats", state="live") == 0
    assert value("evalhub_event_streams") == 0
    assert value("evalhub_chapter_chunks_held") == 0
    for stage in ("released", "sent", "received", "verified", "skipped"):
        assert value("evalhub_chapter_deliveries", stage=stage) == 0
    assert value("process_cpu_seconds_total") > 0


async def scrape_as(config: HubConfig, database: Database, clock: FakeClock, **kw: Any) -> Any:
    app = create_app(config, db=database, clock=clock, sweep=False)
    async with TestClient(TestServer(app)) as c:
        resp = await c.get("/metrics", **kw)
        return resp.status, await resp.json(content_type=None) if resp.status != 200 else None


async def test_metrics_are_for_operators_only(
    client: Client, database: Database, clock: FakeClock
) -> None:
    config: HubConfig = client.app[CONFIG]
    unknown = await client.get("/no-such-place")
    hidden = await (await client.get("/no-such-place")).json(content_type=None)
    assert unknown.status == 404
    hidden["instance"] = "/metrics"
    token = "m" * 40
    outsiders = dataclasses.replace(config, metrics_allow=(), metrics_token=token)
    # Not on the list and no token: the same 404 as an address that does not exist.
    assert await scrape_as(outsiders, database, clock) == (404, hidden)
    wrong = {"Authorization": "Bearer " + "x" * 40}
    assert await scrape_as(outsiders, database, clock, headers=wrong) == (404, hidden)
    right = {"Authorization": f"Bearer {token}"}
    assert await scrape_as(outsiders, database, clock, headers=right) == (200, None)
    # Behind a trusted proxy the origin is judged, not the proxy on loopback.
    proxied = dataclasses.replace(config, trusted_proxies=("127.0.0.1",))
    relayed = {"X-Forwarded-For": "203.0.113.9"}
    assert await scrape_as(proxied, database, clock, headers=relayed) == (404, hidden)
    local = {"X-Forwarded-For": "127.0.0.1"}
    assert await scrape_as(proxied, database, clock, headers=local) == (200, None)
