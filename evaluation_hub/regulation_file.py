"""Reading the regulation (评标规则参数) from configuration: ``configs/regulation.yaml`` holds the
national defaults, and a deployment's own file (``EVALHUB_REGULATION_FILE``) may set any of
them again; both are read onto :class:`~evaluation_hub.regulation.Regulation`'s defaults.

The file's keys are the dataclass fields' names, nested as the dataclasses nest (``outage:
{seal_after: 4h}`` is ``Regulation.outage.seal_after``): a field added to any of the rule
dataclasses is read without a change here, from its type:

* ``int``, ``bool``, ``str``: as YAML writes them (``true``/``false`` for a switch);
* ``Decimal``: a number or a quoted decimal (``0.30``);
* ``Fraction``: ``2/3`` or a whole number;
* ``timedelta``: a number and a unit, ``90s``, ``30min``, ``2h``, ``1d``;
* ``time``: a local clock time in quotes, ``"22:00"`` (unquoted, YAML 1.1 reads 22:00 as the
  number 1320);
* a ``Literal[...]``: one of its values; a nested dataclass: a mapping.

A key that is no field, a value of the wrong type or one the rule refuses (its
``__post_init__``) is refused as :class:`~evaluation_hub.marked_yaml.MarkedError` naming the file
and the line. :func:`values_in_force` flattens a regulation for the start-up log.
"""

from __future__ import annotations

import dataclasses
import re
import typing
from datetime import time, timedelta
from decimal import Decimal, InvalidOperation
from fractions import Fraction
from pathlib import Path
from typing import Any

from evaluation_hub.errors import ConfigError
from evaluation_hub.marked_yaml import Marked, MarkedError, read_marked
from evaluation_hub.regulation import Regulation

__all__ = ["NATIONAL_DEFAULTS_FILE", "load_regulation", "read_regulation", "values_in_force"]

# configs/ sits beside the packages in the repository (editable installs and the demo use it).
NATIONAL_DEFAULTS_FILE = Path(__file__).resolve().parents[1] / "configs" / "regulation.yaml"

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|min|h|d)\s*$")
_UNITS = {"s": "seconds", "min": "minutes", "h": "hours", "d": "days"}
_CLOCK = re.compile(r"^\s*([01]?\d|2[0-3]):([0-5]\d)\s*$")


def _scalar(kind: Any, node: Marked, path: Path, name: str) -> Any:
    value = node.value

    def refuse(expected: str) -> MarkedError:
        return MarkedError(path, node.line, f"{name} must be {expected}, got {value!r}")

    if typing.get_origin(kind) is typing.Literal:
        choices = typing.get_args(kind)
        if value not in choices:
            raise refuse("one of " + ", ".join(str(c) for c in choices))
        return value
    if kind is bool:
        if not isinstance(value, bool):
            raise refuse("true or false")
        return value
    if kind is int:
        if not isinstance(value, int) or isinstance(value, bool):
            raise refuse("a whole number")
        return value
    if kind is str:
        if not isinstance(value, str):
            raise refuse("text")
        return value
    if kind is Decimal:
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            raise refuse("a decimal number")
        try:
            return Decimal(str(value).strip())
        except InvalidOperation:
            raise refuse("a decimal number") from None
    if kind is Fraction:
        if isinstance(value, bool) or not isinstance(value, int | str):
            raise refuse("a fraction such as 2/3")
        try:
            return Fraction(str(value).replace(" ", ""))
        except (ValueError, ZeroDivisionError):
            raise refuse("a fraction such as 2/3") from None
    if kind is timedelta:
        matched = _DURATION.match(value) if isinstance(value, str) else None
        if matched is None:
            raise refuse("a duration such as 90s, 30min, 2h or 1d")
        return timedelta(**{_UNITS[matched.group(2)]: float(matched.group(1))})
    if kind is time:
        if isinstance(value, int) and not isinstance(value, bool):
            raise refuse('a time in quotes, such as "22:00"')
        matched = _CLOCK.match(value) if isinstance(value, str) else None
        if matched is None:
            raise refuse('a time in quotes, such as "22:00"')
        return time(int(matched.group(1)), int(matched.group(2)))
    raise TypeError(f"regulation field {name} has a type the file cannot state: {kind!r}")


def _apply(current: Any, node: Marked, path: Path, prefix: str) -> Any:
    """``current`` (a rule dataclass) with the file's values for it, key by key in file order
    so that a value the rule refuses is blamed on its own line."""
    fields = {f.name: f for f in dataclasses.fields(current) if f.init}
    hints = typing.get_type_hints(type(current))
    for key, value in node.mapping(path, prefix.rstrip(".") or "the regulation").items():
        name = prefix + key
        if key not in fields:
            known = ", ".join(sorted(fields))
            raise MarkedError(path, value.key_line, f"{name} is not a regulation setting ({known})")
        kind = hints[key]
        old = getattr(current, key)
        if dataclasses.is_dataclass(kind):
            new = _apply(old, value, path, name + ".")
        else:
            new = _scalar(kind, value, path, name)
        try:
            current = dataclasses.replace(current, **{key: new})
        except (ConfigError, ValueError) as exc:
            raise MarkedError(path, value.line, f"{name}: {exc}") from exc
    return current


def read_regulation(path: Path, base: Regulation | None = None) -> Regulation:
    """``base`` (the dataclass defaults if None) with the values set in ``path``."""
    return typing.cast(Regulation, _apply(base or Regulation(), read_marked(path), path, ""))


def load_regulation(deployment_file: Path | None = None) -> Regulation:
    """The regulation in force: the national defaults file, then the deployment's own."""
    regulation = read_regulation(NATIONAL_DEFAULTS_FILE)
    if deployment_file is not None:
        regulation = read_regulation(deployment_file, regulation)
    return regulation


def _shown(value: Any) -> Any:
    if isinstance(value, timedelta):
        seconds = int(value.total_seconds())
        for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
            if seconds % size == 0:
                return f"{seconds // size}{unit}"
        return f"{value.total_seconds():g}s"
    if isinstance(value, time):
        return value.strftime("%H:%M")
    if isinstance(value, Decimal | Fraction):
        return str(value)
    return value


def values_in_force(regulation: Regulation) -> dict[str, Any]:
    """Every setting by its dotted name (as the file spells it), for the start-up log."""
    out: dict[str, Any] = {}

    def walk(obj: Any, prefix: str) -> None:
        for f in dataclasses.fields(obj):
            value = getattr(obj, f.name)
            if dataclasses.is_dataclass(value):
                walk(value, f"{prefix}{f.name}.")
            else:
                out[prefix + f.name] = _shown(value)

    walk(regulation, "")
    return out
