"""两随机、四不知: where the random draw sent the seeded session's away experts stays hidden from
the host site until the start — in every view and message, not only the booking list — while
the drawn venues' own admins (and supervisors) see their seats (issue 12, item 1).

Each test draws first (the host's ``POST …/allocation {"policy": "random"}``), reads where the
draw went as the system administrator, then asks what the host's staff can learn. Every one of
these fails on the code before issue 12, which named the drawn venue or seat in the view."""

from __future__ import annotations

from typing import Any

from aiohttp.test_utils import TestClient

from tests.conftest import FakeClock
from tests.hub.helpers import problem
from tests.security.story import Drawn, bearer, draw, window_query

Client = TestClient[Any, Any]


async def _json(resp: Any, status: int = 200) -> Any:
    text = await resp.text()
    assert resp.status == status, text
    return await resp.json(content_type=None)


async def _free(client: Client, query: str, headers: dict[str, str]) -> list[int]:
    return [s["id"] for s in await _json(await client.get(query, headers=headers))]


async def test_the_free_seat_query_does_not_show_the_host_where_the_draw_went(
    client: Client, seeded: dict[str, Any], clock: FakeClock
) -> None:
    now = clock()
    query = await window_query(client, seeded, now)
    host, host_supervisor = bearer(seeded, "km_operator", now), bearer(seeded, "km_supervisor", now)
    before = await _free(client, query, host)
    drawn = await draw(client, seeded, now)
    drawn_ids = {s.seat_id for s in drawn.seats}
    assert drawn_ids <= set(before)

    # Before the start the host's query answers exactly as if nothing had been drawn.
    assert await _free(client, query, host) == before
    assert await _free(client, query, host_supervisor) == before
    # The drawn venues' admins see their own seats taken (they answer the requests).
    for venue in drawn.venues():
        admin = {seeded["venues"][c]: f"{c.lower()}_admin" for c in ("DL", "HH", "QJ")}[venue]
        mine = {s.seat_id for s in drawn.at(venue)}
        seen = await _free(client, query, bearer(seeded, admin, now))
        assert set(seen) == set(before) - mine
    # The system administrator sees every hold.
    assert (
        set(await _free(client, query, bearer(seeded, "sysadmin", now))) == set(before) - drawn_ids
    )

    clock.advance(hours=24)  # the session has started: the draw is no secret any more
    assert (
        set(await _free(client, query, bearer(seeded, "km_operator", clock())))
        == set(before) - drawn_ids
    )


async def test_a_conflict_with_a_drawn_hold_names_neither_seat_nor_booking_to_the_host(
    client: Client, seeded: dict[str, Any], clock: FakeClock
) -> None:
    now = clock()
    drawn = await draw(client, seeded, now)
    host = bearer(seeded, "km_operator", now)
    session = await _json(await client.get(f"/api/sessions/{seeded['session']}", headers=host))
    # A second session of the host in the same window asks for a seat the draw holds.
    second = await _json(
        await client.post(
            "/api/sessions",
            json={
                "project_code": "YN-2026-JS-0413",
                "project_name": "同日另一评标会",
                "section": "第 1 标段",
                "starts_at": session["starts_at"],
                "ends_at": session["ends_at"],
                "committee_size": 5,
            },
            headers=host,
        ),
        201,
    )
    seat = drawn.seats[0]
    resp = await client.post(
        "/api/bookings",
        json={
            "session_id": second["id"],
            "venue_id": seat.venue_id,
            "seat_count": 1,
            "seat_ids": [seat.seat_id],
        },
        headers=host,
    )
    body = await problem(resp, 409)
    assert body["detail"] == "所选工位在该时段已被其他预约占用，请选择其他工位"
    assert "conflicting_booking_id" not in body and "seat_id" not in body
    assert seat.label not in await resp.text()


async def test_the_committee_view_hides_drawn_seats_until_the_start(
    client: Client, seeded: dict[str, Any], clock: FakeClock
) -> None:
    now = clock()
    drawn = await draw(client, seeded, now)
    url = f"/api/sessions/{seeded['session']}/committee"
    for user in ("km_operator", "km_supervisor", "km_admin"):
        members = (await _json(await client.get(url, headers=bearer(seeded, user, now))))["members"]
        assert [m["seat"] for m in members] == [None] * 7, user
    # The system administrator reads the committee with its seats.
    members = (await _json(await client.get(url, headers=bearer(seeded, "sysadmin", now))))[
        "members"
    ]
    assert sorted(m["seat"]["label"] for m in members if m["seat"]) == sorted(
        s.label for s in drawn.seats
    )

    clock.advance(hours=24)
    members = (await _json(await client.get(url, headers=bearer(seeded, "km_operator", clock()))))[
        "members"
    ]
    assert sorted(m["seat"]["label"] for m in members if m["seat"]) == sorted(
        s.label for s in drawn.seats
    )


async def _confirm_drawn(client: Client, seeded: dict[str, Any], drawn: Drawn, now: Any) -> None:
    """Each drawn venue's admin confirms the request addressed to it, with the drawn seats."""
    admins = {seeded["venues"][c]: f"{c.lower()}_admin" for c in ("DL", "HH", "QJ")}
    for booking_id, venue in drawn.bookings.items():
        await _json(
            await client.post(
                f"/api/bookings/{booking_id}/confirm",
                json={},
                headers=bearer(seeded, admins[venue], now),
            )
        )


async def test_check_in_pins_do_not_name_drawn_seats_to_the_host(
    client: Client, seeded: dict[str, Any], clock: FakeClock
) -> None:
    now = clock()
    drawn = await draw(client, seeded, now)
    await _confirm_drawn(client, seeded, drawn, now)
    url = f"/api/sessions/{seeded['session']}/checkin-pins"
    pins = (await _json(await client.post(url, headers=bearer(seeded, "km_operator", now)), 201))[
        "pins"
    ]
    assert len(pins) == len(drawn.seats)
    assert {(p["venue_name"], p["seat_label"]) for p in pins} == {(None, None)}
    text = str(pins)
    assert not any(s.label in text for s in drawn.seats)


async def test_the_host_cannot_probe_a_drawn_booking_for_its_seats(
    client: Client, seeded: dict[str, Any], clock: FakeClock
) -> None:
    """Seating an expert at a drawn booking's seat is refused alike for a seat it holds and one
    it does not, so trying seat ids tells the host nothing."""
    now = clock()
    drawn = await draw(client, seeded, now)
    held = drawn.seats[0]
    not_held = seeded["seats"]["KM-01"]
    host = bearer(seeded, "km_operator", now)
    details = set()
    for seat_id in (held.seat_id, not_held):
        resp = await client.post(
            f"/api/bookings/{held.booking_id}/seats/{seat_id}/expert",
            json={"expert_id": seeded["experts"]["E03"]},
            headers=host,
        )
        details.add((await problem(resp, 409))["detail"])
    assert details == {
        f"预约 #{held.booking_id} 来自随机抽取，专家的工位由抽取结果安排，评标开始前不能调整"
    }


async def test_the_supervision_record_hides_drawn_seats_from_the_host_site(
    client: Client, seeded: dict[str, Any], clock: FakeClock
) -> None:
    now = clock()
    drawn = await draw(client, seeded, now)
    url = f"/api/sessions/{seeded['session']}/supervision"
    record = await _json(await client.get(url, headers=bearer(seeded, "km_supervisor", now)))
    away = [e for e in record["experts"] if e["placement"] == "away"]
    assert len(away) == 5
    assert {(e["seat"] is None, e["secondary_site"] is None) for e in away} == {(True, True)}
    # 大理's own supervisor sees the experts drawn to 大理, with their seats.
    dali = seeded["venues"]["DL"]
    if drawn.at(dali):
        mine = await _json(await client.get(url, headers=bearer(seeded, "dl_supervisor", now)))
        assert sorted(e["seat"]["label"] for e in mine["experts"]) == sorted(
            s.label for s in drawn.at(dali)
        )
        assert {e["secondary_site"]["venue_id"] for e in mine["experts"]} == {dali}

    clock.advance(hours=24)
    record = await _json(await client.get(url, headers=bearer(seeded, "km_supervisor", clock())))
    assert sorted(e["seat"]["label"] for e in record["experts"] if e["seat"]) == sorted(
        s.label for s in drawn.seats
    )


async def test_the_live_wall_hides_drawn_seats_from_the_host_until_the_start(
    client: Client, seeded: dict[str, Any], clock: FakeClock
) -> None:
    """Check-in opens before the start: the host's wall shows no drawn seat yet (their picture
    would show the room), the drawn venue's own supervisor watches its seats."""
    now = clock()
    drawn = await draw(client, seeded, now)
    await _confirm_drawn(client, seeded, drawn, now)
    host = bearer(seeded, "km_operator", now)
    for action in ("confirm_seats", "open_check_in"):
        await _json(
            await client.post(
                f"/api/sessions/{seeded['session']}/actions", json={"action": action}, headers=host
            )
        )
    url = f"/api/sessions/{seeded['session']}/live/seats"
    wall = await _json(await client.get(url, headers=bearer(seeded, "km_supervisor", now)))
    assert (wall["scope"], wall["seats"]) == ("all", [])
    seat = drawn.seats[0]
    resp = await client.post(
        f"/api/sessions/{seeded['session']}/live/seats/{seat.seat_id}/viewers",
        json={"type": "offer", "sdp": "v=0\r\n"},
        headers=bearer(seeded, "km_supervisor", now),
    )
    assert (await problem(resp, 404))["detail"] == (
        f"评标会 #{seeded['session']} 中没有您可观看的工位 #{seat.seat_id}"
    )
    dali = seeded["venues"]["DL"]
    if drawn.at(dali):
        wall = await _json(await client.get(url, headers=bearer(seeded, "dl_supervisor", now)))
        assert sorted(s["label"] for s in wall["seats"]) == sorted(s.label for s in drawn.at(dali))

    clock.advance(hours=24)
    wall = await _json(await client.get(url, headers=bearer(seeded, "km_supervisor", clock())))
    assert sorted(s["label"] for s in wall["seats"]) == sorted(s.label for s in drawn.seats)


async def test_the_drawn_venues_admins_still_see_their_own_bookings(
    client: Client, seeded: dict[str, Any], clock: FakeClock
) -> None:
    now = clock()
    drawn = await draw(client, seeded, now)
    admins = {seeded["venues"][c]: f"{c.lower()}_admin" for c in ("DL", "HH", "QJ")}
    for venue in drawn.venues():
        seen = await _json(
            await client.get("/api/bookings", headers=bearer(seeded, admins[venue], now))
        )
        assert {b["venue_id"] for b in seen} == {venue}
        assert sorted(s["label"] for b in seen for s in b["seats"]) == sorted(
            s.label for s in drawn.at(venue)
        )
