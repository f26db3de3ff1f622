"""Evaluation sessions (评标会): their states and lifecycle, the outage clocks, and committee
formation, as pure rules and as the use cases that apply them to stored sessions.

Pure rules (no I/O):

    states.py          the session states (``SessionState``) and their named groups
    lifecycle.py       transitions, which roles may make them, the transition record
    outage.py          what the host must do, and by when, after a fault (published measures)
    committee.py       commitment and recusal (回避), committee lawfulness and size, chair vote
    errors.py          SessionRuleError, the exception these rules raise

Use cases (take ``Services``, the acting principal and ``now``; check access first through
``evaluation_hub.access``; one unit of work each, audited):

    records.py         create a session, read one with its committee, list them, the experts
    membership.py      register drawn experts and fill a recused member's place (增补专家)
    seat_requests.py   the host requests seats for the session, several venues at once,
                       changes a booking (through ``booking.ledger``)
    seat_allocation.py allocation proposals and random draws (两随机) for the session, and the
                       draw's reveal (the pure allocator is ``booking.allocation``)
    store.py           the session's progress: its view, the lifecycle moves, the fault clocks
    formation.py       members' commitments and recusals, the lawful-committee checks
    chair.py           the chair election (主任委员推选), ballot by ballot from the seats (and
                       the host's typed-in fallback), round by round; tells the seats
    committee_view.py  what the host sees of the committee

Shared: ``lookup.py`` loads a session (or 404) with its access facts, optionally locked;
``members.py`` reads a session's committee members.
"""
