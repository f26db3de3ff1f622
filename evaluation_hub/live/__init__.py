"""Live audio and video supervision (音视频监督) at the hub: seats publish, supervisors watch.

    hub.py        ``LiveHub``: each seat's publisher connection, the forwarders that fan its
                  encoded media out to viewers, the viewers' connections, statistics, alerts
    status.py     a seat's live state, its bus events and the refusal of a media request (pure)
    seats.py      which seats of a session a supervisor may watch (``access.WATCH_LIVE``)
    watching.py   the wall's use cases: the seats with their state, opening and closing viewers
    relay.py      the wall's requests answered by the hub process holding a seat's media or a
                  viewer, whichever process they landed on (over the bus)
    records.py    audit events of live media and conduct alerts turned into incidents
    recording.py  recording each publication, audited segment by segment, with retention
    owners.py     which sessions a seat's media belongs to (from check-in until the session
                  is over, whatever the booked window)

The HTTP side is ``evaluation_hub.api.live``; seats' offers arrive over the seat websocket
(``evaluation_hub.api.seat_link``). Nothing here imports aiohttp or ``evaluation_hub.api``.
"""
