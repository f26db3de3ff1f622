"""Seat terminals at the hub: enrolment, the seat websocket, and score intake.

    models.py     seat_enrolments and submitted_scores tables
    store.py      enrolment decisions and exactly-once score commits (database only)
    websocket.py  the aiohttp shell around ``seat_protocol.hub_side`` at ``/ws/seat``

Errors are the hub's own (``evaluation_hub.errors``); protocol failures become close codes.
"""
