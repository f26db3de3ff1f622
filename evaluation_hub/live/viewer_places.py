"""How many viewers one supervisor may hold (观看连接名额): pure rules behind ``LiveHub.watch``.

A seat's places are shared by everybody who may watch it (``LiveHub.max_viewers_per_seat``);
these caps keep one person from taking them all: at most ``per_seat`` viewers of one seat (a
wall and one more window) and ``per_user`` in all.
"""

from __future__ import annotations

import itertools
import secrets
from collections.abc import Iterable, Iterator

from evaluation_hub.live.status import MediaRefused

__all__ = ["first_viewer_id", "user_cap_refusal"]

#: viewer ids of one hub process are numbered within a block of this size
VIEWER_BLOCK = 2**16


def first_viewer_id() -> Iterator[int]:
    """This process's viewer ids: a block chosen at random (ids stay within the API's 31-bit
    range), so viewers opened by several hub processes are told apart by their id alone
    (``live.relay`` finds a viewer's process by asking who holds that id)."""
    block = secrets.randbelow(2**31 // VIEWER_BLOCK - 2) + 1
    return itertools.count(block * VIEWER_BLOCK + 1)


def user_cap_refusal(
    holders: Iterable[tuple[str, str]],
    seat_key: str,
    username: str,
    *,
    per_seat: int,
    per_user: int,
) -> MediaRefused | None:
    """Why ``username`` may not open one more viewer of ``seat_key``, given the (seat key,
    username) of every viewer open now; ``None`` if they may."""
    mine = [seat for seat, user in holders if user == username]
    of_seat = mine.count(seat_key)
    if of_seat >= per_seat:
        return MediaRefused(
            "too-many-viewers-of-user",
            f"您已打开该工位的 {of_seat} 路观看连接（每人每个工位最多 {per_seat} 路），"
            "请关闭其他观看窗口后再试",
            409,
        )
    if len(mine) >= per_user:
        return MediaRefused(
            "too-many-viewers-of-user",
            f"您同时打开的观看连接已达上限（{per_user} 路），请关闭其他观看窗口后再试",
            409,
        )
    return None


def viewer_refusal(
    holders: Iterable[tuple[str, str]],
    seat_key: str,
    username: str,
    *,
    viewers_of_seat: int,
    per_seat: int,
    per_user_per_seat: int,
    per_user: int,
) -> MediaRefused | None:
    """Why ``username`` may not open one more viewer of ``seat_key`` (which has
    ``viewers_of_seat`` now, of at most ``per_seat``), whichever media plane serves it; ``None``
    if they may."""
    if viewers_of_seat >= per_seat:
        return MediaRefused(
            "too-many-viewers",
            f"该工位的观看人数已达上限（{per_seat} 路），请关闭其他观看窗口后再试",
            409,
        )
    return user_cap_refusal(
        holders, seat_key, username, per_seat=per_user_per_seat, per_user=per_user
    )
