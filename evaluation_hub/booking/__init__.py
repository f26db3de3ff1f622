"""Seat directory and booking (工位共享目录与工位预约).

Pure rules (no I/O):

    rules.py        booking states and transitions, windows, confirmation seats, expiry
    allocation/     seat allocation: the shared problem, the nearest-venue MILP model, the
                    random draw (两随机) with its commitment and verification

Use cases (take ``Services``, the acting principal and ``now``; check access first through
``evaluation_hub.access``; one unit of work each, audited):

    directory.py    venues, seats and free seats, publishing and changing seats, a venue's day
    requests.py     the host requests seats, several venues at once, changes a booking
    answers.py      the booked venue confirms, rejects, checks in; either side cancels or
                    releases; the hub lapses unconfirmed requests
    reading.py      one booking, or the bookings a caller may see
    proposals.py    allocation proposals and random draws for a session, and their reveal

Shared by the use cases:

    ledger.py       the unit of work of booking changes (history, audit, the overlap refusal)
    records.py      typed booking results cut to what the caller may see; page notices
    seatings.py     who sits where now (the one live-seatings query)
    regions.py      loads region tables for the allocator's distances
    draw_cli.py     ``evaluation-hub draw verify``
"""
