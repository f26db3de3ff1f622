"""Seat terminals at the hub (评标终端): their enrolment, what they send and what they are sent.

Use cases and stores only; the aiohttp websocket that carries the seat protocol is the shell
``evaluation_hub.api.seat_link``, which calls one use case here per message and reaches seats
back through ``outlet.SeatOutlet`` (``Services.seats``). Nothing here imports aiohttp or
``evaluation_hub.api``.

    outlet.py           the port through which use cases push to seats or disconnect them
    enrolment.py        a terminal's enrolment request, its standing, decisions by seat key
    enrolment_admin.py  the venue admin's page: the venue's requests, decisions on one
    scores.py           exactly-once intake of score sheets submitted from seats
    expert_requests.py  the expert's check-in, commitment, review answers and signature
    chair_ballots.py    the expert's chair ballot; what a checked-in seat is told of the
                        committee (presence at check-in, the chair election)
    catch_up.py         what a (re)connected seat missed
    chapters.py         chapter release: each expert's chapters sealed for their seat
    chapter_chunks.py   the sealed chunks this process holds for seats
    session_notices.py  session moves carried to every seat over the bus

The seat terminals' tables are ``evaluation_hub.db.seat_terminals``. Errors are the hub's own
(``evaluation_hub.errors``); protocol failures become close codes in the shell.
"""
