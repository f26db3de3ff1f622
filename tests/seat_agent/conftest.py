"""The seat agent's tests reuse the hub fixtures of tests/seats (a real hub on loopback)."""

from tests.seats.conftest import db, hub, make_identity

__all__ = ["db", "hub", "make_identity"]
