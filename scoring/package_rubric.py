"""Importing the scoring rubric of a bid package (评分细则导入): the chapter template of
``package.yaml`` and the items of ``rubric.yaml``, each item's bands covering 0 to its maximum
without gap on its step. Problems are recorded on the ``FieldReader``, every one of them.

Part of the importer (``scoring.package``); must never read files itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

from scoring.model import COMMERCIAL_PART, Band, ChapterSpec, RubricItem
from scoring.package_fields import PACKAGE_FILE, RUBRIC_FILE, FieldReader, on_grid

__all__ = ["parse_rubric", "parse_template"]


def parse_template(c: FieldReader, doc: Mapping[str, object]) -> list[tuple[str, str, Decimal]]:
    f = PACKAGE_FILE
    raw = c.sequence(doc.get("chapters"), f, "chapters")
    out: list[tuple[str, str, Decimal]] = []
    seen: set[str] = set()
    for i, entry in enumerate(raw or ()):
        fld = f"chapters[{i}]"
        e = c.mapping(entry, f, fld)
        if e is None:
            continue
        cid = c.ident(e, "id", f, fld)
        title = c.text(e, "title", f, fld)
        weight = c.decimal(e, "weight", f, fld, default=Decimal(1), positive=True)
        if cid == COMMERCIAL_PART:
            c.add(f, f"{fld}.id", f"章节编号不能为保留字 {COMMERCIAL_PART!r}")
            continue
        if cid is not None and cid in seen:
            c.add(f, f"{fld}.id", f"章节编号 {cid} 重复")
            continue
        if cid is not None:
            seen.add(cid)
        if cid and title and weight is not None:
            out.append((cid, title, weight))
    return out


def _parse_item(c: FieldReader, raw: object, fld: str) -> RubricItem | None:
    f = RUBRIC_FILE
    e = c.mapping(raw, f, fld)
    if e is None:
        return None
    iid = c.ident(e, "id", f, fld)
    title = c.text(e, "title", f, fld)
    maxp = c.decimal(e, "max_points", f, fld, positive=True)
    step = c.decimal(e, "step", f, fld, positive=True)
    objective = e.get("objective", False)
    if not isinstance(objective, bool):
        c.add(f, f"{fld}.objective", "应为 true 或 false")
        objective = False
    if maxp is not None and step is not None and not on_grid(maxp, step):
        c.add(f, f"{fld}.step", f"满分 {maxp} 不是步长 {step} 的整数倍")
        step = None
    bands: list[Band] = []
    for j, rb in enumerate(c.sequence(e.get("bands"), f, f"{fld}.bands") or ()):
        bf = f"{fld}.bands[{j}]"
        raw_band = c.mapping(rb, f, bf)
        if raw_band is None:
            continue
        lo = c.decimal(raw_band, "low", f, bf)
        hi = c.decimal(raw_band, "high", f, bf)
        desc = c.text(raw_band, "description", f, bf)
        if lo is not None and hi is not None and desc is not None:
            if lo > hi:
                c.add(f, bf, f"下限 {lo} 大于上限 {hi}")
            else:
                bands.append(Band(lo, hi, desc))
    if None in (iid, title, maxp, step) or not bands:
        return None
    assert iid is not None and title is not None and maxp is not None and step is not None
    bands.sort(key=lambda b: b.low)
    expected = Decimal(0)
    for b in bands:
        if not (on_grid(b.low, step) and on_grid(b.high, step)):
            c.add(f, f"{fld}.bands", f"分档 {b.low}–{b.high} 的端点不在步长 {step} 上")
            return None
        if b.low != expected:
            c.add(
                f,
                f"{fld}.bands",
                f"分档应无缝覆盖 0–{maxp}：{b.low}–{b.high} 之前应从 {expected} 开始",
            )
            return None
        expected = b.high + step
    if bands[-1].high != maxp:
        c.add(f, f"{fld}.bands", f"最高分档上限为 {bands[-1].high}，应等于满分 {maxp}")
        return None
    return RubricItem(iid, title, maxp, step, tuple(bands), objective)


def _parse_items(c: FieldReader, raw: object, fld: str) -> tuple[RubricItem, ...] | None:
    items: list[RubricItem] = []
    seen: set[str] = set()
    ok = True
    for i, entry in enumerate(c.sequence(raw, RUBRIC_FILE, fld) or ()):
        item = _parse_item(c, entry, f"{fld}[{i}]")
        if item is None:
            ok = False
        elif item.id in seen:
            c.add(RUBRIC_FILE, f"{fld}[{i}].id", f"评分项编号 {item.id} 重复")
            ok = False
        else:
            seen.add(item.id)
            items.append(item)
    return tuple(items) if ok and items else None


def parse_rubric(
    c: FieldReader, doc: Mapping[str, object], template: list[tuple[str, str, Decimal]] | None
) -> tuple[list[ChapterSpec], tuple[RubricItem, ...] | None]:
    f = RUBRIC_FILE
    technical = c.mapping(doc.get("technical"), f, "technical") or {}
    chapters: list[ChapterSpec] = []
    for cid, title, weight in template or ():
        if cid not in technical:
            c.add(f, f"technical.{cid}", f"缺少章节 {cid}（{title}）的评分细则")
            continue
        items = _parse_items(c, technical[cid], f"technical.{cid}")
        if items is not None:
            chapters.append(ChapterSpec(cid, title, weight, items))
    template_ids = {cid for cid, _, _ in template or ()}
    for cid in technical:
        if template is not None and cid not in template_ids:
            c.add(f, f"technical.{cid}", f"章节 {cid} 不在 package.yaml 的章节模板中")
    commercial = _parse_items(c, doc.get("commercial"), "commercial")
    return chapters, commercial
