"""Decimal arithmetic for scores and money: one context, one rounding rule, one place to look.

Scores and prices are ``decimal.Decimal``, never floats, so the figures in a report are the
figures a person gets on paper. Intermediate results (means, ratios) are computed in a local
context with 28 significant digits and are *not* rounded; rounding happens only where
published evaluations round — see ``scoring.aggregation`` and ``scoring.price`` — with
``ROUND_HALF_UP`` (四舍五入) to two or three decimal places.

This module must never touch the global decimal context: callers may have their own.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import ROUND_DOWN, ROUND_HALF_UP, ROUND_UP, Context, Decimal, InvalidOperation
from enum import StrEnum

__all__ = ["CONTEXT", "RoundingMode", "mean", "parse_decimal", "quantize", "round_to"]

#: The context every division and multiplication in the engine uses. Traps stay on so a
#: division by zero is an error, never a silent infinity.
CONTEXT = Context(prec=28, rounding=ROUND_HALF_UP)

_ALLOWED_PLACES = (2, 3)


def quantize(value: Decimal, places: int) -> Decimal:
    """Round ``value`` half up to ``places`` decimals (2 or 3, as evaluation rules allow)."""
    if places not in _ALLOWED_PLACES:
        raise ValueError(f"rounding places must be 2 or 3, got {places}")
    return value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP, context=CONTEXT)


class RoundingMode(StrEnum):
    """How a rule rounds a non-negative quantity (a deviation, a count of bids) to its grid.

    Rules round magnitudes, so the modes are stated for values ≥ 0: ``down`` is the floor
    (舍去, 不足一步不计), ``up`` the ceiling (进一, 不足一步按一步计), ``half_up`` 四舍五入.
    """

    HALF_UP = "half_up"
    DOWN = "down"
    UP = "up"

    @property
    def label(self) -> str:
        return _MODE_LABELS[self]


_MODE_LABELS = {
    RoundingMode.HALF_UP: "四舍五入",
    RoundingMode.DOWN: "舍去",
    RoundingMode.UP: "进一",
}
_MODE_DECIMAL = {
    RoundingMode.HALF_UP: ROUND_HALF_UP,
    RoundingMode.DOWN: ROUND_DOWN,
    RoundingMode.UP: ROUND_UP,
}


def round_to(value: Decimal, quantum: Decimal, mode: RoundingMode) -> Decimal:
    """``value`` rounded to a whole multiple of ``quantum`` (> 0) by ``mode``; exact."""
    if quantum <= 0:
        raise ValueError(f"rounding quantum must be positive, got {quantum}")
    steps = CONTEXT.divide(value, quantum).to_integral_value(
        rounding=_MODE_DECIMAL[mode], context=CONTEXT
    )
    return CONTEXT.multiply(steps, quantum)


def mean(values: Iterable[Decimal]) -> Decimal:
    """Arithmetic mean in the engine's context; unrounded."""
    items = list(values)
    if not items:
        raise ValueError("mean of no values")
    total = sum(items, Decimal(0))
    return CONTEXT.divide(total, Decimal(len(items)))


def parse_decimal(value: object) -> Decimal | None:
    """A finite Decimal from a str, int or float, or None when it is not a number.

    A float (YAML reads ``0.5`` as one) goes through its shortest repr, so ``0.1`` becomes
    ``Decimal("0.1")`` and not the binary value ``0.1000000000000000055…``.
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):
        return parse_decimal(repr(value))
    if isinstance(value, Decimal):
        return value if value.is_finite() else None
    if isinstance(value, str):
        try:
            parsed = Decimal(value.strip())
        except InvalidOperation:
            return None
        return parsed if parsed.is_finite() else None
    return None
