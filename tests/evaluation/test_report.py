"""The report page on its own: built from the worked example of the scoring tests (7 experts,
trimmed means), and printed by headless Chromium to a PDF with the screen toolbar hidden."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from evaluation_hub.evaluation.report import ReportData, SignatureNote, render_report
from scoring.aggregation import aggregate
from scoring.model import TrimBasis
from scoring.price import rank, score_prices
from scoring.sheets import reintegrate
from scoring.shuffle import ShuffleManifest, commitment, derive
from tests.browser.conftest import browser, chromium_path  # noqa: F401  (fixtures)
from tests.scoring.helpers import SEED, demo_package, sheets_through_shuffle
from tests.scoring.test_worked_example import EXPERTS, _points

AT = datetime(2026, 12, 1, 8, 30, tzinfo=UTC)


def _data(seed_hex: str | None = None, **options: Any) -> ReportData:
    package = demo_package()
    manifest = ShuffleManifest("9", EXPERTS, package.chapter_ids, package.bidder_ids)
    shuffle = derive(SEED, manifest)
    scores = reintegrate(sheets_through_shuffle(package, shuffle, _points()), shuffle)
    agg = aggregate(scores, package, **options)
    prices = score_prices(package)
    return ReportData(
        session_id=9,
        session_state="报告已签署",
        host_name="云南省公共资源交易中心（昆明）",
        session_project="P-1 测试项目",
        session_section="第 1 标段",
        package=package,
        committee=[(e, f"专家{e}", "某单位", "away") for e in EXPERTS],
        content_digest="0" * 64,
        seed_commitment=commitment(SEED, manifest),
        revealed_seed=SEED.hex() if seed_hex is None else seed_hex,
        scores=scores,
        aggregation=agg,
        prices=prices,
        ranking=rank(package, agg, prices),
        result_digest="1" * 64,
        reviews=[],
        signatures=[
            SignatureNote("E1", "agree", True, "", "ab" * 32, "cd" * 64, AT),
            SignatureNote("E2", "refused", True, "", None, None, AT),
        ],
        generated_at=AT,
    )


def test_the_report_states_the_aggregation_as_applied() -> None:
    # The same seven members under the method's options: the report says what was done.
    totals = render_report(_data(trim_basis=TrimBasis.TOTALS))
    assert (
        "汇总规则：对每个投标人的技术部分和商务部分，分别去掉总分最高和最低的各一名专家后的"
        "算术平均；"
    ) in totals
    untrimmed = render_report(_data(trim_above=7))
    assert (
        "汇总规则：各专家评分的算术平均（评标委员会 7 人及以下，不去掉最高分和最低分）；"
    ) in untrimmed


def test_the_worked_example_reads_as_published() -> None:
    html = render_report(_data())
    assert "汇总规则：每项去掉一个最高分和一个最低分后的算术平均；保留 2 位小数，四舍五入。" in html
    assert "<strong>85.98</strong>" in html  # b05, as computed by hand in the worked example
    assert (
        "<li>第 1 名中标候选人：b05 大理苍洱路桥工程有限公司</li>"
        "<li>第 2 名中标候选人：b02 普洱澜沧江交通工程有限公司</li>"
        "<li>第 3 名中标候选人：b01 云南滇中路桥建设有限公司</li>"
    ) in html
    assert "各专家评分未出现须复核的情形。" in html
    assert "种子与承诺一致" in html
    assert html.count("尚未签署") == len(EXPERTS) - 2
    assert "报告生成时间</td><td>2026-12-01 16:30:00（北京时间）" in html
    # A seed that does not match its commitment is called out.
    assert "种子与承诺不一致，须查明原因" in render_report(_data(seed_hex="00" * 32))
    # Text from the package is escaped, never markup.
    assert "<script" not in html


async def test_the_report_prints_to_pdf_without_the_toolbar(browser: Any) -> None:  # noqa: F811
    page = await browser.new_page()
    await page.set_content(render_report(_data()))
    assert await page.locator(".toolbar").is_visible()
    await page.emulate_media(media="print")
    assert not await page.locator(".toolbar").is_visible()
    pdf: bytes = await page.pdf(format="A4")
    assert pdf.startswith(b"%PDF-")
    assert len(re.findall(rb"/Type\s*/Page[^s]", pdf)) >= 2  # several A4 pages
    ranking = page.locator("h2:has-text('七、综合得分与排序') + p + table tbody tr")
    assert await ranking.count() == 5
    assert Decimal((await ranking.nth(0).locator("td").nth(5).inner_text()).strip()) == Decimal(
        "85.98"
    )
