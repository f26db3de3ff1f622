"""The host-site hub (主场): seat directory and booking, evaluation sessions, live supervision,
the evaluation engine, joint supervision, audit and archive.

Three layers (docs/architecture.md draws them): shells in ``api/`` (HTTP, pages' API, the seat
websocket in ``api/seat_link/``), the CLI and ``demo/``; use cases, one module per job in each
domain folder; pure rules beneath them.

    access.py      who may do or see what: every access rule (pure)
    services.py    what use cases need from the running hub
    regulation.py  every regulatory number, with the national defaults
    localtime.py   local dates and times in the deployment's zone
    errors.py      the exception tree (refusals are problem+json)
    booking/       seat directory, bookings, seat allocation, who sits where
    sessions/      session states, lifecycle and outage clocks, committee, the host's bookings
    checkin/       seating experts, one-time PINs, check-in
    evaluation/    bid package, score saves, deviation review, seal, reveal, signed report
    seats/         seat terminals: enrolment, their requests, chapter release, catch-up
    live/          live audio/video: publishers, viewers, alerts, recording
    supervision/   joint supervision: incidents, 函告, copy notices, handovers
    audit/         the hash-chained audit trail and its signed checkpoints
    archive/       a session's signed archive bundle and its verification
    admin/         user accounts and passwords
    bids/          bid packages on disk and the ``bids`` / ``shuffle`` commands
    bus/           the event bus and seat presence (in-process or Redis)
    db/            engine, base, shared models, Alembic migrations (``tables.py``: every table)
    api/           the aiohttp application
"""
