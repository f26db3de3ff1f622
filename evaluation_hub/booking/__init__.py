"""Seat directory and booking (工位共享目录与工位预约).

Pure rules (no I/O):

    rules.py        booking states and transitions, windows, confirmation seats, expiry
    allocation/     seat allocation: the shared problem, the nearest-venue MILP model, the
                    random draw (两随机) with its commitment and verification

Use cases (take ``Services``, the acting principal and ``now``; check access first through
``evaluation_hub.access``; one unit of work each, audited):

    directory.py    venues, seats and free seats, publishing and changing seats, a venue's day
    answers.py      the booked venue confirms, rejects, checks in; either side cancels or
                    releases; the hub lapses unconfirmed requests
    reading.py      one booking, or the bookings a caller may see

The host's side, which acts for a session (requesting seats, changing a booking, allocation
proposals and random draws), is ``evaluation_hub.sessions.seat_requests`` and
``evaluation_hub.sessions.seat_allocation``: the sessions package builds on this one (who
sits where, the booking rules), never the other way round.

Shared by the use cases:

    ledger.py       the unit of work of booking changes (history, audit, the overlap refusal)
    records.py      typed booking results cut to what the caller may see; page notices
    seatings.py     who sits where now (the one live-seatings query)
    regions.py      loads region tables for the allocator's distances
    draw_cli.py     ``evaluation-hub draw verify``
"""
