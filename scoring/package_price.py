"""Importing the price section of an evaluation method (价格评分办法导入):
``evaluation_method.price`` of ``package.yaml``, every variant of the benchmark and of the
deviation formula, and every inconsistency between them reported with file and field.

Part of the importer (``scoring.package``); must never read files itself. The rules themselves
are applied in ``scoring.price``; docs/bid-package.md §6 describes each with a worked example.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from decimal import Decimal

from scoring.decimals import CONTEXT, RoundingMode, parse_decimal, round_to
from scoring.model import BenchmarkRule, DropRow, GridRounding, PriceFormula, PriceRule, RateBand
from scoring.package_fields import PACKAGE_FILE, FieldReader, on_grid, shown

__all__ = ["parse_price_rule"]

_F = PACKAGE_FILE
_FLD = "evaluation_method.price"
_MODES = [m.value for m in RoundingMode]
#: keys that only the deviation formula reads
_DEVIATION_ONLY = (
    "above",
    "below",
    "max_deduction_above",
    "max_deduction_below",
    "deviation_rounding",
    "deviation_step",
)
#: percentage decimals a deviation may be rounded to (精确到 1 %, 0.1 %, …, 0.0001 %)
_MAX_DEVIATION_PLACES = 4


def _count(c: FieldReader, obj: Mapping[str, object], key: str, fld: str, least: int) -> int | None:
    value = obj.get(key)
    if not isinstance(value, int) or isinstance(value, bool) or value < least:
        c.add(_F, f"{fld}.{key}", f"应为不小于 {least} 的整数，实际为 {shown(value)}")
        return None
    return value


def _mode(
    c: FieldReader, obj: Mapping[str, object], key: str, fld: str, default: RoundingMode
) -> RoundingMode | None:
    if obj.get(key) is None:
        return default
    return c.choice(obj, key, _F, fld, RoundingMode, _MODES)


def _drop_table(c: FieldReader, raw: object) -> tuple[DropRow, ...] | None:
    fld = f"{_FLD}.drop_table"
    rows: list[DropRow] = []
    for i, entry in enumerate(c.sequence(raw, _F, fld) or ()):
        rf = f"{fld}[{i}]"
        e = c.mapping(entry, _F, rf)
        if e is None:
            continue
        first = _count(c, e, "from", rf, 1)
        last = _count(c, e, "to", rf, 1) if e.get("to") is not None else None
        highest = _count(c, e, "highest", rf, 0)
        lowest = _count(c, e, "lowest", rf, 0)
        if first is None or highest is None or lowest is None:
            continue
        if e.get("to") is not None and last is None:
            continue
        if last is not None and last < first:
            c.add(_F, f"{rf}.to", f"上限 {last} 家小于下限 {first} 家")
            continue
        if highest + lowest >= first:
            c.add(
                _F,
                rf,
                f"{first} 家有效报价去掉最高 {highest} 家、最低 {lowest} 家后不剩报价",
            )
            continue
        rows.append(DropRow(first, last, highest, lowest))
    rows.sort(key=lambda r: r.from_bids)
    for before, after in itertools.pairwise(rows):
        if before.to_bids is None or before.to_bids >= after.from_bids:
            upper = "起（不设上限）" if before.to_bids is None else f"–{before.to_bids} 家"
            c.add(
                _F,
                fld,
                f"{before.from_bids} 家{upper}的一行与从 {after.from_bids} 家起的一行重叠："
                "每个家数只能对应一行",
            )
            return None
    return tuple(rows) if rows else None


def _bands(c: FieldReader, raw: object, fld: str) -> tuple[RateBand, ...] | None:
    bands: list[RateBand] = []
    entries = c.sequence(raw, _F, fld) or ()
    previous = Decimal(0)
    for i, entry in enumerate(entries):
        bf = f"{fld}[{i}]"
        e = c.mapping(entry, _F, bf)
        if e is None:
            return None
        rate = c.decimal(e, "rate", _F, bf)
        if rate is not None and rate < 0:
            c.add(_F, f"{bf}.rate", f"每 1 % 扣分不能为负，实际为 {rate}")
            return None
        last = i == len(entries) - 1
        up_to = c.optional_decimal(e, "up_to", _F, bf, positive=True)
        if last and e.get("up_to") is not None:
            c.add(_F, f"{bf}.up_to", "最后一档不设上限（去掉 up_to），偏差再大也按该档扣分")
            return None
        if not last and e.get("up_to") is None:
            c.add(_F, f"{bf}.up_to", "除最后一档外，每档都要写上限 up_to（百分点）")
            return None
        if rate is None or (not last and up_to is None):
            return None
        if up_to is not None and up_to <= previous:
            c.add(_F, f"{bf}.up_to", f"上限 {up_to} 应大于上一档的上限 {previous}")
            return None
        bands.append(RateBand(up_to, rate))
        previous = up_to if up_to is not None else previous
    return tuple(bands) if bands else None


def _grid(
    c: FieldReader, p: Mapping[str, object], key: str, default: RoundingMode
) -> GridRounding | None:
    fld = f"{_FLD}.{key}"
    m = c.mapping(p.get(key), _F, fld)
    if m is None:
        return None
    mode = _mode(c, m, "mode", fld, default)
    if key == "deviation_rounding":
        places = m.get("places")
        if (
            not isinstance(places, int)
            or isinstance(places, bool)
            or not 0 <= places <= _MAX_DEVIATION_PLACES
        ):
            c.add(
                _F,
                f"{fld}.places",
                f"应为 0 到 {_MAX_DEVIATION_PLACES} 的整数（偏差率百分数的小数位），"
                f"实际为 {shown(places)}",
            )
            return None
        quantum: Decimal | None = Decimal(1).scaleb(-places)
    else:
        quantum = c.decimal(m, "size", _F, fld, positive=True)
    if quantum is None or mode is None:
        return None
    return GridRounding(quantum, mode)


def _share_leaves_bids(c: FieldReader, share: Decimal, mode: RoundingMode, least: int) -> None:
    """Refuse a share whose rounding would drop every bid for some count of bids.

    Only small counts can fail: ``count × (0.5 − share)`` grows with the count, and rounding
    adds less than one bid at each end, so counts above 1 ÷ (0.5 − share) always keep one.
    """
    bound = CONTEXT.divide(Decimal(1), Decimal("0.5") - share)
    last = int(round_to(bound, Decimal(1), RoundingMode.DOWN)) + 1
    for count in range(least, last + 1):
        drop = int(round_to(CONTEXT.multiply(Decimal(count), share), Decimal(1), mode))
        if 2 * drop >= count:
            c.add(
                _F,
                f"{_FLD}.drop_share",
                f"{count} 家有效报价 × {share} 按{mode.label}取整为每端去掉 {drop} 家，"
                f"不剩报价：请减小 drop_share、改用其他取整方式或提高 drop_share_min_bids",
            )
            return


def _trimming(
    c: FieldReader, p: Mapping[str, object]
) -> tuple[bool, Decimal | None, int, RoundingMode, tuple[DropRow, ...]]:
    drop_hl = p.get("drop_highest_lowest", False)
    if not isinstance(drop_hl, bool):
        c.add(_F, f"{_FLD}.drop_highest_lowest", "应为 true 或 false")
        drop_hl = False
    drop_share = c.optional_decimal(p, "drop_share", _F, _FLD)
    share_ok = drop_share is not None and Decimal(0) < drop_share < Decimal("0.5")
    if drop_share is not None and not share_ok:
        c.add(_F, f"{_FLD}.drop_share", f"应大于 0 且小于 0.5，实际为 {drop_share}")
    min_bids = p.get("drop_share_min_bids", 0)
    if not isinstance(min_bids, int) or isinstance(min_bids, bool) or min_bids < 0:
        c.add(_F, f"{_FLD}.drop_share_min_bids", "应为非负整数")
        min_bids = 0
    share_mode = _mode(c, p, "drop_share_rounding", _FLD, RoundingMode.DOWN)
    if p.get("drop_share_rounding") is not None and drop_share is None:
        c.add(_F, f"{_FLD}.drop_share_rounding", "只在设置 drop_share 时有效")
    if drop_hl and drop_share is not None:
        c.add(_F, f"{_FLD}.drop_share", "drop_highest_lowest 与 drop_share 只能选一种")
    elif share_ok and share_mode is not None:
        assert drop_share is not None
        _share_leaves_bids(c, drop_share, share_mode, max(3, min_bids))
    table: tuple[DropRow, ...] = ()
    if p.get("drop_table") is not None:
        if drop_hl or drop_share is not None:
            c.add(
                _F,
                f"{_FLD}.drop_table",
                "drop_table 不能与 drop_highest_lowest 或 drop_share 同时使用",
            )
        table = _drop_table(c, p.get("drop_table")) or ()
    return drop_hl, drop_share, min_bids, share_mode or RoundingMode.DOWN, table


def _coefficient(
    c: FieldReader, p: Mapping[str, object]
) -> tuple[Decimal | None, tuple[Decimal, Decimal] | None, Decimal | None]:
    step = c.decimal(p, "coefficient_step", _F, _FLD, default=Decimal("0.01"), positive=True)
    crange: tuple[Decimal, Decimal] | None = None
    raw_range = p.get("coefficient_range")
    if raw_range is not None:
        lo = hi = None
        if isinstance(raw_range, list) and len(raw_range) == 2:
            lo, hi = parse_decimal(raw_range[0]), parse_decimal(raw_range[1])
        if lo is None or hi is None or not Decimal(0) < lo <= hi:
            c.add(_F, f"{_FLD}.coefficient_range", "应为两个数 [下限, 上限]，且 0 < 下限 ≤ 上限")
        else:
            crange = (lo, hi)
    coefficient = c.optional_decimal(p, "coefficient", _F, _FLD)
    if coefficient is not None and crange is not None and step is not None:
        lo, hi = crange
        if not lo <= coefficient <= hi or not on_grid(coefficient - lo, step):
            c.add(
                _F,
                f"{_FLD}.coefficient",
                f"系数 {coefficient} 不在抽取范围 {lo}–{hi}（步长 {step}）内",
            )
    return coefficient, crange, step


def _side(
    c: FieldReader, p: Mapping[str, object], side: str, full: Decimal | None
) -> tuple[tuple[RateBand, ...] | None, Decimal | None, bool]:
    """The rate bands and cap of one side ("above" / "below"); False when a field is bad."""
    ok = True
    bands: tuple[RateBand, ...] | None = ()
    if p.get(side) is not None:
        if p.get(f"e_{side}") is not None:
            c.add(_F, f"{_FLD}.{side}", f"e_{side} 与 {side} 只能选一种（单一扣分率或分档扣分率）")
            ok = False
        bands = _bands(c, p.get(side), f"{_FLD}.{side}")
        ok = ok and bands is not None
    cap_key = f"max_deduction_{side}"
    cap = c.optional_decimal(p, cap_key, _F, _FLD, positive=True)
    if p.get(cap_key) is not None and cap is None:
        ok = False
    if cap is not None and full is not None and cap > full:
        c.add(_F, f"{_FLD}.{cap_key}", f"最多扣 {cap} 分，超过价格分满分 {full} 分")
        ok = False
    return bands, cap, ok


def parse_price_rule(c: FieldReader, p: Mapping[str, object]) -> PriceRule | None:
    """The price rule, or None when any field is bad (each problem recorded on ``c``)."""
    full = c.decimal(p, "full_marks", _F, _FLD, positive=True)
    formula = c.choice(p, "formula", _F, _FLD, PriceFormula, [x.value for x in PriceFormula])
    benchmark = c.choice(p, "benchmark", _F, _FLD, BenchmarkRule, [x.value for x in BenchmarkRule])
    drop_hl, drop_share, min_bids, share_mode, table = _trimming(c, p)
    coefficient, crange, step = _coefficient(c, p)
    trims = drop_hl or drop_share is not None or p.get("drop_table") is not None
    if benchmark is BenchmarkRule.LOWEST and (trims or crange):
        c.add(_F, f"{_FLD}.benchmark", "最低价基准不能去掉最高最低价或乘以系数，请改用 mean")
    e_above = c.decimal(p, "e_above", _F, _FLD, default=Decimal(1))
    e_below = c.decimal(p, "e_below", _F, _FLD, default=Decimal("0.5"))
    if formula is PriceFormula.RATIO:
        for key in _DEVIATION_ONLY:
            if p.get(key) is not None:
                c.add(_F, f"{_FLD}.{key}", "只适用于偏差率公式（formula: deviation）")
    above, cap_above, ok_above = _side(c, p, "above", full)
    below, cap_below, ok_below = _side(c, p, "below", full)
    rounding = (
        _grid(c, p, "deviation_rounding", RoundingMode.HALF_UP)
        if p.get("deviation_rounding") is not None
        else None
    )
    stepping = (
        _grid(c, p, "deviation_step", RoundingMode.UP)
        if p.get("deviation_step") is not None
        else None
    )
    grids_ok = (rounding is not None or p.get("deviation_rounding") is None) and (
        stepping is not None or p.get("deviation_step") is None
    )
    if None in (full, formula, benchmark, step, e_above, e_below):
        return None
    if not (ok_above and ok_below and grids_ok):
        return None
    assert full is not None and formula is not None and benchmark is not None
    assert step is not None and e_above is not None and e_below is not None
    return PriceRule(
        full_marks=full,
        formula=formula,
        benchmark=benchmark,
        drop_highest_lowest=drop_hl,
        drop_share=drop_share,
        drop_share_min_bids=min_bids,
        coefficient=coefficient,
        coefficient_range=crange,
        coefficient_step=step,
        e_above=e_above,
        e_below=e_below,
        drop_share_rounding=share_mode,
        drop_table=table,
        bands_above=above or (),
        bands_below=below or (),
        max_deduction_above=cap_above,
        max_deduction_below=cap_below,
        deviation_rounding=rounding,
        deviation_step=stepping,
    )
