"""The hub <-> seat websocket protocol: message types both ends import, pure state machines.

Sans-I/O, modelled on the ``websockets`` library: text in, events and frames out, time passed
in as ``now``. The aiohttp handler in the hub and the ``websockets`` client in ``seat_agent``
are thin shells around these machines.

    messages.py    every message type, the JSON codec and its size limits
    closecodes.py  the 4000-4999 close codes and their reasons
    exceptions.py  the exception tree (root: SeatProtocolError)
    auth.py        Ed25519 challenge-response and the enrolment code
    streams.py     per-direction sequencing, acknowledgement, resend and resume
    hub_side.py    the hub's connection machine, per-seat channels and the score ledger
    seat_side.py   the seat's connection machine and the enrolment conversation
    backoff.py     reconnect delays with full jitter
    events.py      outputs (frames, close) and events the machines hand to their shells

Nothing in this package imports ``evaluation_hub`` or ``seat_agent``, does I/O, reads a clock
or draws random numbers. The wire format is documented in docs/seat-protocol.md.
"""
