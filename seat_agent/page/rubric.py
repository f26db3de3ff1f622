"""Checking one part's score form against the rubric the hub sent, as the expert types.

The rules are the hub's and run here as the hub runs them (``scoring.sheets.item_faults``):
every (subject, item) of the part scored, points within 0..max and a whole multiple of the
step, a written reason for a score in the top or bottom band, and a written reason for a score
changed during deviation review. This module only words the first fault of each cell for the
page. The hub judges the save again; this check only spares the expert a refused save. Pure:
no I/O.

A part in the briefing's rubric::

    {"part": "ch1", "title": "施工方案", "subjects": ["AB", "CD"],
     "items": [{"id": "1.1", "title": "…", "max": "8", "step": "0.5",
                "top_low": "7", "bottom_high": "2"}, …]}
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from scoring.sheets import ItemFault, ItemLimits, item_faults
from scoring.signing import decimal_text

__all__ = ["Checked", "check_part", "parse_points"]

MAX_COMMENT = 2000


@dataclass(frozen=True)
class Checked:
    """``problems`` maps ``"<subject>|<item>"`` (or ``"*"``) to the Chinese problem text;
    ``sheet`` is the save to send when there is none."""

    problems: dict[str, str]
    sheet: dict[str, Any] | None


# What an expert types as a score: digits with an optional fraction (and a sign, so that -1 is
# told it is out of range rather than not a number). Full-width digits from a Chinese input
# method count (NFKC); what Decimal would also take — 1e1, 1_0, NaN, Arabic-Indic digits — is
# not a score anyone means to type.
_PLAIN = re.compile(r"-?(?:\d+(?:\.\d*)?|\.\d+)", re.ASCII)


def parse_points(text: object) -> Decimal | None:
    if not isinstance(text, str):
        return None
    plain = unicodedata.normalize("NFKC", text).strip()
    if _PLAIN.fullmatch(plain) is None:
        return None
    return Decimal(plain)


def _dec(text: object) -> Decimal:
    value = parse_points(text)
    if value is None:
        raise ValueError(f"rubric value {text!r} is not a number")
    return value


def _limits(item: Mapping[str, Any]) -> ItemLimits:
    return ItemLimits(
        _dec(item["max"]), _dec(item["step"]), _dec(item["top_low"]), _dec(item["bottom_high"])
    )


def _problem(fault: ItemFault, points: Decimal, item: Mapping[str, Any]) -> str:
    text = decimal_text(points)
    if fault is ItemFault.OUT_OF_RANGE:
        return f"得分 {text} 超出分值范围 0–{item['max']}"
    if fault is ItemFault.OFF_STEP:
        return f"得分 {text} 不是步长 {item['step']} 的整数倍"
    if fault is ItemFault.TOP_BAND_UNEXPLAINED:
        return f"得分 {text} 在最高档，须填写评分理由"
    if fault is ItemFault.BOTTOM_BAND_UNEXPLAINED:
        return f"得分 {text} 在最低档，须填写评分理由"
    return "复核中修改了得分，须填写修改理由"


def check_part(
    part: Mapping[str, Any],
    values: Mapping[str, Mapping[str, Any]],
    *,
    previous: Mapping[str, str] | None = None,
    in_review: bool = False,
) -> Checked:
    """Check the form of one part. ``values`` maps ``"<subject>|<item>"`` to
    ``{"points": text, "comment": text}``; ``previous`` maps the same keys to the points of
    the save last sent (a change during review needs a reason)."""
    problems: dict[str, str] = {}
    entries: list[dict[str, str]] = []
    subjects: Sequence[str] = part["subjects"]
    for subject in subjects:
        for item in part["items"]:
            key = f"{subject}|{item['id']}"
            cell = values.get(key) or {}
            text = str(cell.get("points", "")).strip()
            comment = str(cell.get("comment", "")).strip()
            if not text:
                problems[key] = "未评分"
                continue
            points = parse_points(text)
            if points is None:
                problems[key] = f"得分「{text}」不是数字"
                continue
            if len(comment) > MAX_COMMENT:
                problems[key] = f"评分理由不能超过 {MAX_COMMENT} 字"
                continue
            changed = (
                in_review
                and previous is not None
                and key in previous
                and parse_points(previous[key]) != points
            )
            faults = item_faults(points, comment, _limits(item), changed_in_review=changed)
            if faults:
                problems[key] = _problem(faults[0], points, item)
            else:
                entries.append(
                    {
                        "subject": subject,
                        "item": str(item["id"]),
                        "points": decimal_text(points),
                        "comment": comment,
                    }
                )
    if problems:
        return Checked(problems, None)
    return Checked({}, {"part": str(part["part"]), "entries": entries})
