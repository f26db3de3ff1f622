"""The evaluation report (评标报告) as one printable HTML page in Simplified Chinese.

``render_report`` is pure: it takes what the store gathered after the reveal (``ReportData``)
and returns the page. Sections: committee; bid package and the staggered-shuffle seed
(commitment, revealed seed, whether they match); per bidder, every expert's chapter totals
with the label that expert saw, and the committee's aggregated scores; the deviation-review
record (an answer the host entered for an expert marked 主场代录, a request that closed itself
when the values agreed marked so); price scores; composite scores and ranking; the candidates;
every member's signature or recorded refusal; and every score save the host entered for an
expert (代录) with its written reason. ``@media print`` rules make it print on A4 without the
screen chrome.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from html import escape
from typing import Any

from evaluation_hub import localtime
from evaluation_hub.evaluation.signals import DISCLAIMER, annex_rows, computed_signals
from scoring.aggregation import Aggregation
from scoring.decimals import quantize
from scoring.model import COMMERCIAL_PART, BidPackage
from scoring.price import PriceResult, Ranking, describe_formula
from scoring.sheets import Reintegrated
from scoring.shuffle import ShuffleManifest, commitment
from scoring.signing import decimal_text
from seat_protocol.suites import suite_of_public_bytes

__all__ = ["ProxySaveNote", "ReportData", "ReviewNote", "SignatureNote", "render_report"]

_REASONS = {
    "summation_error": "计分汇总错误",
    "out_of_range": "分值超出评分标准规定的范围",
    "objective_inconsistent": "客观评审因素评分不一致",
    "deviation": "评分畸高、畸低",
}
_ANSWERS = {
    "keep": "保留原评分（书面说明）",
    "revise": "已重新评分",
    "settled": "各专家评分已一致，自动关闭",
    None: "未答复",
}
_PART_NAMES = {COMMERCIAL_PART: "商务部分"}
_PLACEMENTS = {"host": "主场", "away": "客场"}


@dataclass(frozen=True)
class ReviewNote:
    round: int
    expert: str
    part: str
    subject: str
    item: str | None
    bidder: str
    reason: str
    message: str
    spread: Mapping[str, Any]
    answer: str | None
    answer_reason: str
    #: who recorded the answer: ``seat:<key>``, the hub (settled) or a host operator (代录)
    answered_by: str | None = None
    #: an informational notice (the expert held the value most members gave)
    informational: bool = False


@dataclass(frozen=True)
class ProxySaveNote:
    """A score save the host entered for an expert (代录) and why."""

    expert: str | None
    part: str | None
    accepted: bool
    reason: str
    recorded_by: str
    received_at: datetime


@dataclass(frozen=True)
class SignatureNote:
    expert: str
    decision: str
    counted_as_agreement: bool
    reason: str
    public_key: str | None
    signature: str | None
    signed_at: datetime


@dataclass(frozen=True)
class ReportData:
    session_id: int
    session_state: str
    host_name: str
    session_project: str
    session_section: str
    package: BidPackage
    #: (code, name, employer, placement) in committee order
    committee: Sequence[tuple[str, str, str, str]]
    content_digest: str
    seed_commitment: str
    revealed_seed: str
    scores: Reintegrated
    aggregation: Aggregation
    prices: PriceResult
    ranking: Ranking
    result_digest: str
    reviews: Sequence[ReviewNote]
    signatures: Sequence[SignatureNote]
    generated_at: datetime
    #: the chair (主任委员) the committee elected, by expert code, if it held the election
    chair: str | None = None
    #: every save the host entered for an expert (代录), in order
    proxy_saves: Sequence[ProxySaveNote] = ()


_CSS = """
body { font-family: "Noto Serif CJK SC", "Source Han Serif SC", "SimSun", serif;
       margin: 2em auto; max-width: 60em; color: #111; line-height: 1.5; }
h1 { text-align: center; font-size: 1.6em; margin-bottom: 0.2em; }
h2 { font-size: 1.15em; border-bottom: 1px solid #444; margin-top: 1.6em; }
h3 { font-size: 1em; margin: 1em 0 0.3em; }
table { border-collapse: collapse; width: 100%; margin: 0.4em 0 0.8em; font-size: 0.92em; }
th, td { border: 1px solid #666; padding: 0.25em 0.45em; text-align: left; vertical-align: top; }
th { background: #eee; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.meta td:first-child { width: 9em; background: #f6f6f6; }
.mono { font-family: "DejaVu Sans Mono", monospace; font-size: 0.85em; word-break: break-all; }
.note { color: #444; font-size: 0.9em; }
.toolbar { margin-bottom: 1em; }
@page { size: A4; margin: 15mm 12mm; }
@media print {
  body { margin: 0; max-width: none; font-size: 10.5pt; }
  .toolbar { display: none; }
  h2 { page-break-after: avoid; }
  table, tr { page-break-inside: avoid; }
  th { background: #eee !important; -webkit-print-color-adjust: exact; print-color-adjust: exact; }
}
"""


def _e(value: object) -> str:
    return escape(str(value))


def _num(value: Decimal, places: int) -> str:
    return str(quantize(value, places))


def _money(value: Decimal) -> str:
    return f"{quantize(value, 2):,}"


def _table(head: Sequence[str], rows: Sequence[Sequence[str]], numeric: frozenset[int]) -> str:
    out = ["<table><thead><tr>", *(f"<th>{_e(h)}</th>" for h in head), "</tr></thead><tbody>"]
    for row in rows:
        out.append("<tr>")
        out.extend(
            f'<td class="num">{cell}</td>' if i in numeric else f"<td>{cell}</td>"
            for i, cell in enumerate(row)
        )
        out.append("</tr>")
    out.append("</tbody></table>")
    return "".join(out)


def _time(at: datetime) -> str:
    return localtime.format_seconds(at)


def _seed_verified(data: ReportData) -> bool:
    if not data.revealed_seed:
        return False
    manifest = ShuffleManifest(
        str(data.session_id),
        tuple(c[0] for c in data.committee),
        data.package.chapter_ids,
        data.package.bidder_ids,
    )
    return commitment(bytes.fromhex(data.revealed_seed), manifest) == data.seed_commitment


def _per_bidder(data: ReportData) -> str:
    pkg, agg, scores = data.package, data.aggregation, data.scores
    places = agg.places
    parts: list[str] = []
    head = [
        "专家",
        *(f"{c.id} {c.title}（标签/得分）" for c in pkg.chapters),
        "技术分（加权）",
        "商务分",
    ]
    numeric = frozenset(range(1, len(pkg.chapters) + 3))
    for b in pkg.bidders:
        rows = []
        bs = agg.bidders[b.id]
        for e in agg.experts:
            cells = [_e(e) + ("" if e in agg.kept_experts else "（按规则剔除）")]
            for c in pkg.chapters:
                total = sum((scores.score(e, c.id, b.id, i.id) for i in c.items), Decimal(0))
                label = scores.labels.get((e, c.id, b.id), "")
                cells.append(f"{_e(label)} / {_e(decimal_text(total))}")
            tech, com = bs.per_expert[e]
            cells.extend([_num(tech, places), _num(com, places)])
            rows.append(cells)
        rows.append(
            [
                "<strong>评标委员会汇总</strong>",
                *(_num(bs.chapters[c.id], places) for c in pkg.chapters),
                f"<strong>{bs.technical}</strong>",
                f"<strong>{bs.commercial}</strong>",
            ]
        )
        parts.append(
            f"<h3>{_e(b.id)} {_e(b.name)}（统一社会信用代码 {_e(b.credit_code)}）</h3>"
            + _table(head, rows, numeric)
        )
    rule = agg.describe()
    note = f'<p class="note">汇总规则：{_e(rule)}；'
    note += f"保留 {places} 位小数，四舍五入。"
    return note + "</p>" + "".join(parts)


def _reviews(data: ReportData) -> str:
    if not data.reviews:
        return "<p>各专家评分未出现须复核的情形。</p>"
    names = {b.id: b.name for b in data.package.bidders}
    rows = []
    for r in data.reviews:
        spread = r.spread
        rows.append(
            [
                str(r.round),
                _e(r.expert),
                _e(r.part if r.part != COMMERCIAL_PART else "商务部分"),
                _e(r.subject),
                f"{_e(r.bidder)} {_e(names.get(r.bidder, ''))}",
                _e(r.item or "章节合计"),
                _e(_REASONS.get(r.reason, r.reason)),
                f"本人 {_e(spread.get('yours', ''))}；其他专家 "
                f"{_e('、'.join(spread.get('others', [])))}；平均 {_e(spread.get('mean', ''))}",
                _e(_answer_text(r)),
                _e(r.answer_reason),
            ]
        )
    head = [
        "轮次",
        "专家",
        "章节",
        "标签",
        "投标人",
        "评分项",
        "复核原因",
        "评分分布",
        "答复",
        "说明",
    ]
    return _table(head, rows, frozenset())


def _answer_text(r: ReviewNote) -> str:
    text = _ANSWERS.get(r.answer, r.answer or "")
    if r.informational:
        text = "知悉通知（评分与多数专家一致，无需答复）；" + text
    by = r.answered_by or ""
    if r.answer in ("keep", "revise") and by and not by.startswith("seat:"):
        text += f"（主场代录：{by}）"
    return text


def _proxy_saves(data: ReportData) -> str:
    if not data.proxy_saves:
        return "<p>所有评分均由专家本人在工位终端提交，无主场代录。</p>"
    rows = [
        [
            _e(p.expert or "—"),
            _e(_PART_NAMES.get(p.part or "", p.part or "—")),
            "代录" + ("" if p.accepted else "（未被接受，不计入）"),
            _e(p.reason),
            _e(p.recorded_by),
            _e(_time(p.received_at)),
        ]
        for p in data.proxy_saves
    ]
    return _table(["专家", "评分部分", "方式", "代录理由", "代录人", "时间"], rows, frozenset())


def _prices(data: ReportData) -> str:
    pkg, prices = data.package, data.prices
    bench = prices.benchmark
    names = {b.id: b.name for b in pkg.bidders}
    rule = pkg.method.price
    desc = "最低有效报价" if rule.benchmark.value == "lowest" else "有效报价算术平均值"
    if bench.dropped:
        desc += "（去掉 " + "、".join(bench.dropped) + " 后）"
    if bench.coefficient is not None:
        desc += f" × 下浮系数 {bench.coefficient}"
    rows = [
        [f"{_e(b)} {_e(names[b])}", _money(pkg.prices[b]), str(prices.scores[b])]
        for b in pkg.bidder_ids
        if b in prices.scores
    ]
    rows.extend(
        [f"{_e(b)} {_e(names[b])}", "—", f"报价无效：{_e(why)}"]
        for b, why in pkg.invalid_prices.items()
    )
    return (
        f"<p>评标基准价：{_money(bench.value)} 元（{_e(desc)}）；价格分满分 "
        f"{_e(rule.full_marks)} 分；{_e(describe_formula(rule))}。</p>"
        + _table(["投标人", "投标报价（元）", "价格分"], rows, frozenset({1, 2}))
    )


def _ranking(data: ReportData) -> str:
    names = {b.id: b.name for b in data.package.bidders}
    rows = [
        [
            str(r.rank) + ("（并列）" if r.tied else ""),
            f"{_e(r.bidder_id)} {_e(names[r.bidder_id])}",
            str(r.technical),
            str(r.commercial),
            str(r.price_score),
            f"<strong>{r.composite}</strong>",
        ]
        for r in data.ranking.rows
    ]
    method = data.package.method
    note = (
        f'<p class="note">综合得分 = 技术分 × {method.technical_weight} + 商务分 × '
        f"{method.commercial_weight} + 价格分；得分相同时报价低者优先，报价也相同时技术分高者优先。</p>"
    )
    return note + _table(
        ["名次", "投标人", "技术分", "商务分", "价格分", "综合得分"], rows, frozenset({2, 3, 4, 5})
    )


def _candidates(data: ReportData) -> str:
    names = {b.id: b.name for b in data.package.bidders}
    items = "".join(
        f"<li>第 {n} 名中标候选人：{_e(b)} {_e(names[b])}</li>"
        for n, b in enumerate(data.ranking.candidates, start=1)
    )
    warn = (
        "<p><strong>前三名中存在按规则无法区分的并列，须由评标委员会依法确定顺序。</strong></p>"
        if data.ranking.unresolved_ties
        else ""
    )
    return f"<ol>{items}</ol>{warn}"


def _fingerprint(public_key_hex: str) -> str:
    """A seat key's fingerprint as the report prints it: the first 16 hex digits of the
    hash of the raw public key in its suite (SHA-256 of an Ed25519 key, SM3 of an SM2 key),
    in groups of four (``1a2b 3c4d 5e6f 7a8b``)."""
    raw = bytes.fromhex(public_key_hex)
    digest = suite_of_public_bytes(raw).hexdigest(raw)[:16]
    return " ".join(digest[i : i + 4] for i in range(0, 16, 4))


def _signatures(data: ReportData) -> str:
    by_expert = {s.expert: s for s in data.signatures}
    rows = []
    for code, name, _, _ in data.committee:
        sig = by_expert.get(code)
        if sig is None:
            rows.append([_e(code), _e(name), "尚未签署", "", "", "", ""])
            continue
        if sig.decision == "agree":
            opinion = "同意评标结论"
        elif sig.decision == "disagree":
            opinion = "不同意评标结论（已签字并书面说明理由）"
        elif sig.counted_as_agreement:
            opinion = "拒绝签字且未书面说明理由，视为同意评标结论"
        else:
            opinion = "拒绝签字，书面说明了不同意见和理由"
        fingerprint = _fingerprint(sig.public_key) if sig.public_key else "—"
        rows.append(
            [
                _e(code),
                _e(name),
                _e(opinion),
                _e(sig.reason) or "—",
                f'<span class="mono fingerprint">{_e(fingerprint)}</span>',
                f'<span class="mono signature">{_e(sig.signature or "—")}</span>',
                _e(_time(sig.signed_at)),
            ]
        )
    # Seat keys are of the deployment's suite: SM2 keys are 65 bytes (130 hex digits).
    national = any(len(s.public_key or "") == 130 for s in data.signatures)
    return _table(
        [
            "专家",
            "姓名",
            "意见",
            "不同意见和理由",
            "签名公钥指纹",
            "SM2 签名" if national else "Ed25519 签名",
            "签署时间",
        ],
        rows,
        frozenset(),
    )


def _signals(data: ReportData) -> str:
    rows = annex_rows(computed_signals(data.session_id, data.package, data.scores))
    found = (
        _table(["信号", "涉及", "位置", "规模"], [[_e(c) for c in r] for r in rows], frozenset())
        if rows
        else "<p>未发现串通投标提示信号。</p>"
    )
    return f'<p class="note">{_e(DISCLAIMER)}</p>{found}'


def render_report(data: ReportData) -> str:
    pkg = data.package
    verified = _seed_verified(data)
    committee = _table(
        ["序号", "专家编号", "姓名", "工作单位", "席位"],
        [
            [str(n), _e(code), _e(name), _e(employer), _e(_PLACEMENTS.get(placement, placement))]
            for n, (code, name, employer, placement) in enumerate(data.committee, start=1)
        ],
        frozenset(),
    )
    if data.chair:
        names = {code: name for code, name, _, _ in data.committee}
        chair = f"{data.chair} {names.get(data.chair, '')}".strip()
        committee += f"<p>主任委员（经评标委员会推选）：{_e(chair)}</p>"
    meta = _table(
        ["事项", "内容"],
        [
            ["项目", f"{_e(pkg.project.code)} {_e(pkg.project.name)}"],
            ["标段", f"{_e(pkg.section.code)} {_e(pkg.section.name)}"],
            ["招标人", _e(pkg.project.tenderer)],
            ["评标办法", _e(pkg.method.name)],
            ["评标会", f"#{data.session_id} {_e(data.session_project)} {_e(data.session_section)}"],
            ["主场", _e(data.host_name)],
            ["评标会状态", _e(data.session_state)],
            ["报告生成时间", _e(_time(data.generated_at)) + "（北京时间）"],
        ],
        frozenset(),
    )
    seed = _table(
        ["事项", "内容"],
        [
            ["标书包内容摘要（SHA-256）", f'<span class="mono">{_e(data.content_digest)}</span>'],
            [
                "错位评审种子承诺（评审开始前公布）",
                f'<span class="mono">{_e(data.seed_commitment)}</span>',
            ],
            ["揭示的种子（封存后公布）", f'<span class="mono">{_e(data.revealed_seed)}</span>'],
            [
                "核验",
                "种子与承诺一致，各专家的章节顺序和标签可据此复核"
                if verified
                else "种子与承诺不一致，须查明原因",
            ],
            ["评标结果文档摘要（SHA-256）", f'<span class="mono">{_e(data.result_digest)}</span>'],
        ],
        frozenset(),
    )
    sections = [
        ("一、基本情况", meta),
        ("二、评标委员会", committee),
        ("三、标书包与错位评审种子", seed),
        ("四、各投标人评分（解密还原后，按专家）", _per_bidder(data)),
        ("五、评分偏离复核记录", _reviews(data)),
        ("六、价格分", _prices(data)),
        ("七、综合得分与排序", _ranking(data)),
        ("八、推荐的中标候选人", _candidates(data)),
        ("九、评标委员会成员签署", _signatures(data)),
        ("十、主场代录评分记录", _proxy_saves(data)),
        ("附件：串通投标提示信号", _signals(data)),
    ]
    body = "".join(f"<h2>{_e(title)}</h2>{html}" for title, html in sections)
    return (
        '<!DOCTYPE html><html lang="zh-CN"><head><meta charset="utf-8">'
        f"<title>评标报告 — {_e(pkg.project.name)} {_e(pkg.section.name)}</title>"
        f"<style>{_CSS}</style></head><body>"
        '<div class="toolbar"><button type="button" onclick="window.print()">打印 / 另存为 PDF'
        "</button></div>"
        f'<h1>评标报告</h1><p style="text-align:center">{_e(pkg.project.name)}　'
        f"{_e(pkg.section.name)}</p>{body}</body></html>"
    )
