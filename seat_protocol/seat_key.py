"""The seat key (工位标识): how a seat terminal names itself on the wire and the hub names it in
its records, ``<venue code>.<seat label>`` (``DL.DL-01``).

One type for both ends: ``SeatKey`` is a ``str`` (so it travels in messages, keys dictionaries
and fills database columns as it is) that knows its two parts. Build one with
:meth:`SeatKey.of`; read one from outside with :meth:`SeatKey.parse`, which answers ``None``
for text that is not a seat key (no dot, or an empty part) rather than raising: every caller
treats an unknown seat the same way.
"""

from __future__ import annotations

__all__ = ["SeatKey"]


class SeatKey(str):
    __slots__ = ()

    @classmethod
    def of(cls, venue_code: str, label: str) -> SeatKey:
        return cls(f"{venue_code}.{label}")

    @classmethod
    def parse(cls, text: str) -> SeatKey | None:
        venue_code, dot, label = text.partition(".")
        if not (dot and venue_code and label):
            return None
        return cls(text)

    @property
    def venue_code(self) -> str:
        return self.partition(".")[0]

    @property
    def label(self) -> str:
        return self.partition(".")[2]
