"""The port through which check-in looks at a seat's live picture (在场核验): what the seat's
conduct monitor saw last.

The live hub (``evaluation_hub.live.hub.LiveHub``) implements it and the HTTP shell puts it on
``Services.pictures`` (``api.live.setup_live``); a process without live media (the CLI, a test
without publishers) answers ``None``: no picture, so presence is not confirmed.
"""

from __future__ import annotations

from typing import Protocol

from media.conduct import Observation

__all__ = ["NoPictures", "PictureSource"]


class PictureSource(Protocol):
    def latest(self, seat_key: str) -> Observation | None:
        """The conduct monitor's latest look at the seat's live picture, or None when the seat
        has no live picture now (not publishing, stream lost, nothing sampled recently)."""
        ...


class NoPictures:
    """The picture source of a process that receives no seat media."""

    def latest(self, seat_key: str) -> Observation | None:
        return None
