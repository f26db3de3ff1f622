"""Render a bid-package check as the text a centre admin reads (Simplified Chinese).

Each anonymity finding is one line (``Finding.describe``): bidder, chapter, line, column and
length in the chapter file as submitted, the kind, the text as written and — when it only
matched after folding — what it folds to. Identifying text comes first, deliberate marks after.

This module must never decide anything: it formats what ``scoring`` found.
"""

from __future__ import annotations

from collections.abc import Sequence

from scoring.anonymity import Finding
from scoring.errors import PackageProblem
from scoring.model import BidPackage
from scoring.similarity import SimilarPair

__all__ = ["render_check", "render_problems"]

_PASSAGE_CHARS = 60


def render_problems(problems: Sequence[PackageProblem]) -> str:
    lines = [f"标书包导入失败，共 {len(problems)} 个问题，请全部修正后重新导入："]
    lines.extend(f"  - {p.file}  {p.field}：{p.message}" for p in problems)
    return "\n".join(lines)


def _short(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= _PASSAGE_CHARS else flat[:_PASSAGE_CHARS] + "…"


def render_check(
    package: BidPackage, findings: Sequence[Finding], pairs: Sequence[SimilarPair]
) -> str:
    p = package
    marks = [f for f in findings if f.kind.is_mark]
    texts = [f for f in findings if not f.kind.is_mark]
    counts = [f"{len(texts)} 处标识信息"] * bool(texts) + [f"{len(marks)} 处暗记"] * bool(marks)
    lines = [
        f"项目：{p.project.name}（{p.project.code}）",
        f"标段：{p.section.name}（{p.section.code}）",
        f"投标人 {len(p.bidders)} 家，技术暗标章节 {len(p.chapters)} 章，导入检查通过。",
        "",
        f"一、暗标合规检查：{'未发现问题' if not findings else '发现 ' + '、'.join(counts)}",
    ]
    lines.extend(f"  - {f.describe()}" for f in texts)
    if marks:
        lines.append(
            "  暗记（颜色、字体、字号、图片、页眉页脚、隐藏内容、异常符号、重复的特殊字符串）："
        )
        lines.extend(f"  - {f.describe()}" for f in marks)
    if findings:
        flagged = sorted({(f.bidder_id, f.chapter_id) for f in findings})
        lines.append(
            "  以下章节在记录放行理由前不得发放给专家：" + "、".join(f"{b}/{c}" for b, c in flagged)
        )
    lines.append("")
    lines.append(
        f"二、标书雷同检查：{'未发现雷同' if not pairs else f'发现 {len(pairs)} 对雷同章节'}"
    )
    for pair in pairs:
        lines.append(
            f"  - 章节 {pair.chapter_id}：投标人 {pair.bidder_a} 与 {pair.bidder_b}，"
            f"相似度（Jaccard）{pair.jaccard:.2f}，包含度 {pair.containment:.2f}"
        )
        for passage in pair.passages:
            lines.append(f"      相同段落（{passage.length} 字）：{_short(passage.text)}")
    lines.append("")
    lines.append(
        "结论：" + ("通过" if not findings and not pairs else "存在问题，须处理后方可发放")
    )
    return "\n".join(lines)
