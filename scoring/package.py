"""Bid package import (标书导入): from parsed documents and chapter bytes to a ``BidPackage``.

The format is described in docs/bid-package.md. The I/O layer reads the four YAML documents
(``package.yaml``, ``bidders.yaml``, ``rubric.yaml``, ``prices.yaml``) and the chapter files
(``chapters/<bidder id>/<chapter id>.md|.html|.htm|.txt``) and hands them here as plain values.
Import checks every rule and reports *every* problem with file and field, so an admin fixes a
package in one round instead of one error per attempt.

The importer is three modules: this one (documents, project, evaluation method and prices,
bidders, chapter files, and ``parse_package`` that puts them together), ``package_rubric`` (the
chapter template and the rubric) and ``package_fields`` (the file names and the field reader
that records every problem); ``chapter_text`` extracts an HTML chapter's text.

This module must never read files itself: it takes what was read.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal

from scoring.chapter_text import html_to_text
from scoring.errors import PackageInvalid, PackageProblem
from scoring.model import (
    AggregationRule,
    Bidder,
    BidPackage,
    ChapterFormat,
    ChapterSource,
    Contact,
    EvaluationMethod,
    Project,
    Section,
    TrimBasis,
)
from scoring.package_fields import (
    BIDDERS_FILE,
    CHAPTER_EXTENSIONS,
    CHAPTER_PATH,
    DOCUMENT_FILES,
    FORMAT,
    PACKAGE_FILE,
    PRICES_FILE,
    RUBRIC_FILE,
    FieldReader,
    shown,
)
from scoring.package_price import parse_price_rule
from scoring.package_rubric import parse_rubric, parse_template

__all__ = [
    "BIDDERS_FILE",
    "CHAPTER_EXTENSIONS",
    "DOCUMENT_FILES",
    "FORMAT",
    "MAX_PROBLEMS",
    "PACKAGE_FILE",
    "PRICES_FILE",
    "RUBRIC_FILE",
    "credit_code_problem",
    "html_to_text",
    "parse_package",
]

#: the problems one report lists (the rest are counted)
MAX_PROBLEMS = 200

# GB 32100-2015 统一社会信用代码: 18 characters from 31 symbols, the last a check character.
_CREDIT_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_CREDIT_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)


def credit_code_problem(code: str) -> str | None:
    """Why ``code`` is not a valid unified social credit code, or None when it is."""
    if len(code) != 18:
        return f"统一社会信用代码应为 18 位，实际 {len(code)} 位"
    bad = sorted({c for c in code if c not in _CREDIT_ALPHABET})
    if bad:
        return f"统一社会信用代码含非法字符：{''.join(bad)}"
    total = sum(_CREDIT_ALPHABET.index(c) * w for c, w in zip(code, _CREDIT_WEIGHTS, strict=False))
    expected = _CREDIT_ALPHABET[(31 - total % 31) % 31]
    if code[17] != expected:
        return f"统一社会信用代码校验位错误：应为 {expected}，实际 {code[17]}"
    return None


def _parse_project(
    c: FieldReader, doc: Mapping[str, object]
) -> tuple[Project | None, Section | None]:
    f = PACKAGE_FILE
    project = section = None
    p = c.mapping(doc.get("project"), f, "project")
    if p is not None:
        code, name, tenderer = (c.text(p, k, f, "project") for k in ("code", "name", "tenderer"))
        if code and name and tenderer:
            project = Project(code, name, tenderer)
    s = c.mapping(doc.get("section"), f, "section")
    if s is not None:
        code, name = (c.text(s, k, f, "section") for k in ("code", "name"))
        if code and name:
            section = Section(code, name)
    return project, section


_FIGURES = ("technical", "commercial", "price", "composite")


def _places(c: FieldReader, value: object, field: str) -> int | None:
    if value not in (2, 3) or isinstance(value, bool):
        c.add(PACKAGE_FILE, field, f"应为 2 或 3，实际为 {shown(value)}")
        return None
    assert isinstance(value, int)
    return value


def _parse_figure_places(c: FieldReader, m: Mapping[str, object]) -> dict[str, int] | None:
    """``evaluation_method.rounding``: places per published figure (technical at 3, …)."""
    f, fld = PACKAGE_FILE, "evaluation_method.rounding"
    if m.get("rounding") is None:
        return {}
    r = c.mapping(m.get("rounding"), f, fld)
    if r is None:
        return None
    out: dict[str, int] = {}
    ok = True
    for key in r:
        if key not in _FIGURES:
            c.add(f, f"{fld}.{key}", f"未知的得分项，可选：{'、'.join(_FIGURES)}")
            ok = False
            continue
        places = _places(c, r[key], f"{fld}.{key}")
        if places is None:
            ok = False
        else:
            out[str(key)] = places
    return out if ok else None


def _parse_trim(
    c: FieldReader, m: Mapping[str, object], agg: AggregationRule | None
) -> tuple[TrimBasis, int] | None:
    f, fld = PACKAGE_FILE, "evaluation_method"
    basis: TrimBasis | None = TrimBasis.ITEMS
    if m.get("trim_basis") is not None:
        basis = c.choice(m, "trim_basis", f, fld, TrimBasis, [x.value for x in TrimBasis])
    above = m.get("trim_above", 5)
    if not isinstance(above, int) or isinstance(above, bool) or above < 2:
        # trimming one highest and one lowest needs at least three scores
        c.add(f, f"{fld}.trim_above", f"应为不小于 2 的整数，实际为 {shown(above)}")
        return None
    if agg is AggregationRule.MEAN:
        for key in ("trim_basis", "trim_above"):
            if m.get(key) is not None:
                c.add(f, f"{fld}.{key}", "aggregation 为 mean 时不去掉最高最低分，此项无效")
                return None
    return (basis, above) if basis is not None else None


def _parse_method(c: FieldReader, doc: Mapping[str, object]) -> EvaluationMethod | None:
    f, fld = PACKAGE_FILE, "evaluation_method"
    m = c.mapping(doc.get(fld), f, fld)
    if m is None:
        return None
    name = c.text(m, "name", f, fld)
    places = _places(c, m.get("rounding_places", 2), f"{fld}.rounding_places")
    agg = c.choice(m, "aggregation", f, fld, AggregationRule, [x.value for x in AggregationRule])
    trim = _parse_trim(c, m, agg)
    figures = _parse_figure_places(c, m)
    tw = c.decimal(m, "technical_weight", f, fld, default=Decimal(1), positive=True)
    cw = c.decimal(m, "commercial_weight", f, fld, default=Decimal(1), positive=True)
    # Optional: when the package sets none, the hub's configured share applies.
    share = c.optional_decimal(m, "deviation_share", f, fld, positive=True)
    if share is not None and share > 1:
        c.add(f, f"{fld}.deviation_share", f"应在 0 到 1 之间，实际为 {share}")
    p = c.mapping(m.get("price"), f, f"{fld}.price")
    price = parse_price_rule(c, p) if p is not None else None
    if None in (name, places, agg, tw, cw, price, trim, figures):
        return None
    assert name is not None and places is not None and agg is not None
    assert tw is not None and cw is not None and price is not None
    assert trim is not None and figures is not None
    return EvaluationMethod(
        name,
        places,
        agg,
        tw,
        cw,
        price,
        share,
        trim_basis=trim[0],
        trim_above=trim[1],
        technical_places=figures.get("technical"),
        commercial_places=figures.get("commercial"),
        price_places=figures.get("price"),
        composite_places=figures.get("composite"),
    )


def _parse_bidders(c: FieldReader, doc: Mapping[str, object]) -> tuple[list[Bidder], list[str]]:
    """The valid bidders, and every declared id (so one bad field does not cascade)."""
    f = BIDDERS_FILE
    out: list[Bidder] = []
    seen_ids: set[str] = set()
    seen_codes: dict[str, str] = {}
    for i, raw in enumerate(c.sequence(doc.get("bidders"), f, "bidders") or ()):
        fld = f"bidders[{i}]"
        b = c.mapping(raw, f, fld)
        if b is None:
            continue
        bid = c.ident(b, "id", f, fld)
        name = c.text(b, "name", f, fld)
        code = c.text(b, "credit_code", f, fld)
        if code is not None:
            problem = credit_code_problem(code)
            if problem:
                c.add(f, f"{fld}.credit_code", problem)
                code = None
            elif code in seen_codes:
                c.add(
                    f, f"{fld}.credit_code", f"与投标人 {seen_codes[code]} 的统一社会信用代码相同"
                )
                code = None
        contacts: list[Contact] = []
        raw_contacts = b.get("contacts", [])
        if not isinstance(raw_contacts, list):
            c.add(f, f"{fld}.contacts", "应为列表")
            raw_contacts = []
        for j, rc in enumerate(raw_contacts):
            cf = f"{fld}.contacts[{j}]"
            m = c.mapping(rc, f, cf)
            if m is None:
                continue
            cname = c.text(m, "name", f, cf)
            phone, email = m.get("phone", ""), m.get("email", "")
            if not isinstance(phone, str | int) or not isinstance(email, str):
                c.add(f, cf, "phone 和 email 应为字符串")
                continue
            if cname:
                contacts.append(Contact(cname, str(phone).strip(), email.strip()))
        aliases = c.strings(b, "aliases", f, fld)
        staff = c.strings(b, "key_staff", f, fld)
        if bid is not None and bid in seen_ids:
            c.add(f, f"{fld}.id", f"投标人编号 {bid} 重复")
            continue
        if bid is not None:
            seen_ids.add(bid)
        if bid and name and code:
            seen_codes[code] = bid
            out.append(Bidder(bid, name, code, tuple(contacts), aliases, staff))
    return out, sorted(seen_ids)


def _parse_prices(
    c: FieldReader, doc: Mapping[str, object], bidder_ids: Sequence[str] | None
) -> tuple[dict[str, Decimal], dict[str, str]]:
    f = PRICES_FILE
    prices: dict[str, Decimal] = {}
    invalid: dict[str, str] = {}
    for i, raw in enumerate(c.sequence(doc.get("prices"), f, "prices") or ()):
        fld = f"prices[{i}]"
        p = c.mapping(raw, f, fld)
        if p is None:
            continue
        bid = c.text(p, "bidder", f, fld)
        if bid is None:
            continue
        if bidder_ids is not None and bid not in bidder_ids:
            c.add(f, f"{fld}.bidder", f"投标人 {bid} 不在 bidders.yaml 中")
            continue
        if bid in prices or bid in invalid:
            c.add(f, f"{fld}.bidder", f"投标人 {bid} 的报价重复")
            continue
        valid = p.get("valid", True)
        if not isinstance(valid, bool):
            c.add(f, f"{fld}.valid", "应为 true 或 false")
            continue
        if not valid:
            reason = c.text(p, "invalid_reason", f, fld)
            if reason:
                invalid[bid] = reason
            continue
        amount = c.decimal(p, "amount", f, fld, positive=True)
        if amount is None:
            continue
        if amount.as_tuple().exponent < -2:  # type: ignore[operator]
            c.add(f, f"{fld}.amount", f"报价 {amount} 的小数位超过 2 位（元，精确到分）")
            continue
        prices[bid] = amount
    for bid in bidder_ids or ():
        if bid not in prices and bid not in invalid:
            c.add(f, "prices", f"缺少投标人 {bid} 的报价")
    return prices, invalid


_FORMATS = {
    ".html": ChapterFormat.HTML,
    ".htm": ChapterFormat.HTML,
    ".md": ChapterFormat.MARKDOWN,
    ".txt": ChapterFormat.TEXT,
}


def _parse_chapters(
    c: FieldReader,
    files: Mapping[str, bytes],
    bidder_ids: Sequence[str] | None,
    chapter_ids: Sequence[str] | None,
    unreadable: set[str],
) -> tuple[dict[tuple[str, str], str], dict[tuple[str, str], ChapterSource]]:
    texts: dict[tuple[str, str], str] = {}
    sources: dict[tuple[str, str], ChapterSource] = {}
    found: dict[tuple[str, str], str] = {}
    for path in sorted(files):
        m = CHAPTER_PATH.fullmatch(path)
        if m is None:
            c.add(path, "-", "不是 chapters/<投标人编号>/<章节编号>.<扩展名> 形式的章节文件")
            continue
        bid, cid, ext = m.group(1), m.group(2), m.group(3).lower()
        if ext not in CHAPTER_EXTENSIONS:
            c.add(path, "-", f"不支持的章节格式 {ext}，可用：{'、'.join(CHAPTER_EXTENSIONS)}")
            continue
        if bidder_ids is not None and bid not in bidder_ids:
            c.add(path, "-", f"投标人 {bid} 不在 bidders.yaml 中")
            continue
        if chapter_ids is not None and cid not in chapter_ids:
            c.add(path, "-", f"章节 {cid} 不在 package.yaml 的章节模板中")
            continue
        if (bid, cid) in found:
            c.add(path, "-", f"与 {found[bid, cid]} 重复：同一章节只能有一个文件")
            continue
        found[bid, cid] = path
        try:
            raw = files[path].decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            c.add(path, "-", f"不是 UTF-8 编码（第 {exc.start} 字节）")
            continue
        text = html_to_text(raw) if ext in (".html", ".htm") else raw.strip()
        if not text:
            c.add(path, "-", "章节内容为空")
            continue
        texts[bid, cid] = text
        sources[bid, cid] = ChapterSource(path, _FORMATS[ext], raw)
    for path in unreadable:
        m = CHAPTER_PATH.fullmatch(path)
        if m is not None:
            found.setdefault((m.group(1), m.group(2)), path)
    for bid in bidder_ids or ():
        for cid in chapter_ids or ():
            if (bid, cid) not in found:
                c.add(f"chapters/{bid}/{cid}.md", "-", f"缺少投标人 {bid} 的章节 {cid}")
    return texts, sources


def _capped(problems: Sequence[PackageProblem]) -> list[PackageProblem]:
    """At most ``MAX_PROBLEMS`` problems, then one saying how many more there are: the report
    of a package with a thousand bad rows stays readable, and small."""
    if len(problems) <= MAX_PROBLEMS:
        return list(problems)
    rest = len(problems) - MAX_PROBLEMS
    return [*problems[:MAX_PROBLEMS], PackageProblem("-", "-", f"另有 {rest} 个问题未列出")]


def parse_package(
    documents: Mapping[str, object],
    chapter_files: Mapping[str, bytes],
    *,
    read_problems: Sequence[PackageProblem] = (),
) -> BidPackage:
    """Validate and build a bid package; raise ``PackageInvalid`` listing every problem.

    ``documents`` maps each of ``DOCUMENT_FILES`` to its parsed YAML; ``chapter_files`` maps
    each path under the package directory (``chapters/...``) to its bytes. ``read_problems``
    are problems the I/O layer met while reading (bad YAML, unreadable files); they are
    reported with the rest, and a file with a read problem is not reported missing again.
    """
    c = FieldReader()
    c.problems.extend(read_problems)
    unreadable = {p.file for p in read_problems}
    docs: dict[str, Mapping[str, object]] = {}
    for name in DOCUMENT_FILES:
        if name in unreadable:
            docs[name] = {}
        elif name not in documents:
            c.add(name, "-", "文件缺失")
            docs[name] = {}
        elif documents[name] is None or documents[name] == {}:
            c.add(name, "-", "文件为空")
            docs[name] = {}
        else:
            docs[name] = c.mapping(documents[name], name, "-") or {}
    pkg = docs[PACKAGE_FILE]
    if pkg and pkg.get("format") != FORMAT:
        c.add(PACKAGE_FILE, "format", f"应为 {FORMAT!r}，实际为 {shown(pkg.get('format'))}")
    project, section = _parse_project(c, pkg) if pkg else (None, None)
    method = _parse_method(c, pkg) if pkg else None
    template = parse_template(c, pkg) if pkg else []
    chapters, commercial = (
        parse_rubric(c, docs[RUBRIC_FILE], template if pkg else None)
        if docs[RUBRIC_FILE]
        else ([], None)
    )
    # When a file could not be read its ids are unknown, not empty: cross-checks against them
    # are skipped instead of reporting every reference as unknown.
    bidders: list[Bidder] = []
    bidder_ids: list[str] | None = None
    if docs[BIDDERS_FILE]:
        bidders, bidder_ids = _parse_bidders(c, docs[BIDDERS_FILE])
    prices, invalid = (
        _parse_prices(c, docs[PRICES_FILE], bidder_ids) if docs[PRICES_FILE] else ({}, {})
    )
    texts, sources = _parse_chapters(
        c,
        chapter_files,
        bidder_ids,
        [cid for cid, _, _ in template] if pkg else None,
        unreadable,
    )
    if c.problems:
        raise PackageInvalid(_capped(c.problems))
    assert project is not None and section is not None and method is not None
    assert commercial is not None
    return BidPackage(
        project=project,
        section=section,
        method=method,
        chapters=tuple(chapters),
        commercial_items=commercial,
        bidders=tuple(bidders),
        prices=prices,
        invalid_prices=invalid,
        texts=texts,
        sources=sources,
    )
