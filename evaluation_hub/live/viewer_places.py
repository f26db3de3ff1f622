"""How many viewers one supervisor may hold (观看连接名额): pure rules behind ``LiveHub.watch``.

A seat's places are shared by everybody who may watch it (``LiveHub.max_viewers_per_seat``);
these caps keep one person from taking them all: at most ``per_seat`` viewers of one seat (a
wall and one more window) and ``per_user`` in all.
"""

from __future__ import annotations

from collections.abc import Iterable

from evaluation_hub.live.status import MediaRefused

__all__ = ["user_cap_refusal"]


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
