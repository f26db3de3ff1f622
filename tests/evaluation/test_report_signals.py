"""The report's annex (附件：串通投标提示信号): computed from the package and the sealed scores
with the same rules as the attach, places and sizes only, said to be signals and not findings."""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

from evaluation_hub.bids.package_io import read_package
from evaluation_hub.evaluation.report import render_report
from scoring.sheets import reintegrate
from scoring.shuffle import ShuffleManifest, derive
from tests.evaluation.helpers import PLANTED_TOKEN, identities, near_identical_package
from tests.evaluation.test_report import _data
from tests.scoring.helpers import SEED, sheets_through_shuffle
from tests.scoring.test_worked_example import EXPERTS, _points

TITLE = "<h2>附件：串通投标提示信号</h2>"
NOTE = "提示信号，不构成违规认定：以下内容仅供监督人员核查，不代表存在串通投标或违规行为。"


def _annex(html: str) -> str:
    return html[html.index(TITLE) :]


def _rows(annex: str) -> list[list[str]]:
    body = annex[annex.index("<tbody>") : annex.index("</tbody>")]
    return [re.findall(r"<td>(.*?)</td>", row) for row in re.findall(r"<tr>(.*?)</tr>", body)]


def test_the_demo_annex_lists_only_its_one_alike_chapter() -> None:
    annex = _annex(render_report(_data()))
    assert NOTE in annex
    # The demo's five bids raise no cross-chapter pair, shared string, price tail or
    # near-identical sheets; its one same-chapter pair (b02/b05 ch3) is the demo's planted one.
    assert _rows(annex) == [
        [
            "同章节内容雷同",
            "b02、b05",
            "ch3",
            "相似度 0.90，包含度 0.95；相同段落 5 处，最长 246 字",
        ]
    ]


def test_near_identical_bids_and_sheets_are_in_the_annex(tmp_path: Path) -> None:
    package = read_package(near_identical_package(tmp_path))
    # E2 hands in E1's sheet: every item the same
    points = {
        key: (_points()[("E1", *key[1:])] if key[0] == "E2" else value)
        for key, value in _points().items()
    }
    manifest = ShuffleManifest("9", EXPERTS, package.chapter_ids, package.bidder_ids)
    shuffle = derive(SEED, manifest)
    scores = reintegrate(sheets_through_shuffle(package, shuffle, points), shuffle)
    html = render_report(replace(_data(), package=package, scores=scores))
    annex = _annex(html)
    assert _rows(annex) == [
        ["同章节内容雷同", "b01、b03", "ch3", "相似度 1.00，包含度 1.00；相同段落 1 处，最长 313 字"],
        ["同章节内容雷同", "b02、b05", "ch3", "相似度 0.90，包含度 0.95；相同段落 5 处，最长 246 字"],
        [
            "跨章节内容雷同",
            "b01、b03",
            "b01 的 ch1 与 b03 的 ch2",
            "相似度 1.00，包含度 1.00；相同段落 1 处，最长 567 字",
        ],
        [
            "跨章节内容雷同",
            "b01、b03",
            "b01 的 ch2 与 b03 的 ch1",
            "相似度 0.97，包含度 1.00；相同段落 1 处，最长 387 字",
        ],
        [
            "相同的特殊字符串",
            "b01、b03",
            "b01 的 ch3 第 401–407 字；b03 的 ch1 第 470–476 字；b03 的 ch3 第 401–407 字",
            "7 个字符（内容不列出）",
        ],
        [
            "报价尾数相同",
            "b01、b03",
            "投标报价",
            "末尾 4 位相同（最低位 0.01 元位），超出取整可解释的范围",
        ],
        ["评分表高度一致", "专家 E1、专家 E2", "全部评分项", "100.00% 的评分项分值相同"],
    ]  # fmt: skip
    assert PLANTED_TOKEN not in annex
    # the annex names bidders by id only, as the rest of the signals do
    assert [m for m in identities(package) if m in annex] == []
