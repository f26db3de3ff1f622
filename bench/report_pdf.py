"""Benchmark the evaluation report as PDF (WeasyPrint). Prints figures, no verdict.

    .venv/bin/python bench/report_pdf.py [--experts 9] [--bidders 30] [--chapters 3] [--runs 3]

A signed report of ``experts`` members and ``bidders`` bidders (``chapters`` technical chapters
of 3 items each, plus the commercial part): every member's scores through the staggered
shuffle, the aggregation, price scores and ranking, one deviation-review note per member, and
every member's signature with a seat key. Measured in the same run:

* baseline: ``render_report`` (the printable HTML page the hub serves);
* ``render_pdf`` of that page, the first time in the process (WeasyPrint loads Pango and the
  fonts) and then ``runs`` more times (what a hub process that already rendered one pays).

The hub renders a session's PDF once (the first download after signing) and serves the stored
bytes after that, so this is a one-off cost per session, paid in a worker thread.
"""

from __future__ import annotations

import argparse
import dataclasses
import io
import platform
import random
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import TypeVar

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pypdf import PdfReader

from bench.scoring import _package
from evaluation_hub.evaluation.report import ReportData, ReviewNote, SignatureNote, render_report
from evaluation_hub.evaluation.report_pdf import render_pdf
from scoring.aggregation import aggregate
from scoring.model import COMMERCIAL_PART
from scoring.price import rank, score_prices
from scoring.sheets import ScoreEntry, ScoreSheet, reintegrate
from scoring.shuffle import ShuffleManifest, commitment, derive

T = TypeVar("T")
AT = datetime(2026, 12, 1, 8, 30, tzinfo=UTC)


def _timed(fn: Callable[[], T]) -> tuple[T, float, float]:
    """(result, wall seconds, CPU seconds of this process): on a shared machine the CPU time
    is the steadier figure."""
    start, cpu = time.perf_counter(), time.process_time()
    result = fn()
    return result, time.perf_counter() - start, time.process_time() - cpu


def report_data(experts: int, bidders: int, chapters: int) -> ReportData:
    rng = random.Random(20261204)
    package = _package(bidders, chapters, 3)
    package = dataclasses.replace(
        package,
        prices={b: Decimal(rng.randint(9_000_000, 11_000_000)) for b in package.bidder_ids},
    )
    codes = tuple(f"E{e + 1:02d}" for e in range(experts))
    manifest = ShuffleManifest("BENCH", codes, package.chapter_ids, package.bidder_ids)
    seed = bytes(range(32))
    shuffle = derive(seed, manifest)
    sheets = []
    for e in codes:
        entries = [
            ScoreEntry(c.id, label, i.id, Decimal(rng.randint(8, 20)) / 2)
            for c in package.chapters
            for label in shuffle.view(e).chapters[package.chapter_ids.index(c.id)].labels
            for i in c.items
        ]
        entries += [ScoreEntry(COMMERCIAL_PART, b, "c1", Decimal(8)) for b in package.bidder_ids]
        sheets.append(ScoreSheet("BENCH", e, tuple(entries)))
    scores = reintegrate(sheets, shuffle)
    agg = aggregate(scores, package)
    prices = score_prices(package)
    keys = [Ed25519PrivateKey.from_private_bytes(bytes([n + 1]) * 32) for n in range(experts)]
    return ReportData(
        session_id=1,
        session_state="报告已签署",
        host_name="云南省公共资源交易中心（昆明）",
        session_project="P-1 基准测试项目",
        session_section="第 1 标段",
        package=package,
        committee=[(e, f"专家{e}", "某设计研究院", "away") for e in codes],
        content_digest="0" * 64,
        seed_commitment=commitment(seed, manifest),
        revealed_seed=seed.hex(),
        scores=scores,
        aggregation=agg,
        prices=prices,
        ranking=rank(package, agg, prices),
        result_digest="1" * 64,
        reviews=[
            ReviewNote(
                round=1,
                expert=e,
                part=package.chapter_ids[0],
                subject="AA",
                item=None,
                bidder=package.bidder_ids[n % bidders],
                reason="deviation",
                message="",
                spread={"yours": "3", "others": ["9", "9.5"], "mean": "8.10"},
                answer="keep",
                answer_reason="该投标人的施工组织设计未涉及高边坡防护方案，故给低分",
                answered_by=f"seat:KM.KM-{n + 1:02d}",
            )
            for n, e in enumerate(codes)
        ],
        signatures=[
            SignatureNote(
                e,
                "agree",
                True,
                "",
                keys[n].public_key().public_bytes_raw().hex(),
                "ab" * 64,
                AT,
            )
            for n, e in enumerate(codes)
        ],
        generated_at=AT,
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--experts", type=int, default=9)
    parser.add_argument("--bidders", type=int, default=30)
    parser.add_argument("--chapters", type=int, default=3)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    print(
        f"python {platform.python_version()} on {platform.machine()}, {platform.processor() or 'cpu'}"
    )
    data = report_data(args.experts, args.bidders, args.chapters)
    html, t_html, c_html = _timed(lambda: render_report(data))
    print(
        f"report: {args.experts} members × {args.bidders} bidders × {args.chapters} chapters "
        f"(HTML {len(html.encode()) / 1024:.0f} KiB)"
    )
    pdf, t_first, c_first = _timed(lambda: render_pdf(html))
    again = [_timed(lambda: render_pdf(html)) for _ in range(args.runs)]
    pages = len(PdfReader(io.BytesIO(pdf)).pages)
    wall = statistics.median(t for _, t, _ in again)
    cpu = statistics.median(c for _, _, c in again)
    print(f"  {pages} pages, {len(pdf) / 1024:.0f} KiB of PDF               wall ms     CPU ms")
    print(f"  baseline: render_report (HTML)     {t_html * 1000:9.1f}  {c_html * 1000:9.1f}")
    print(f"  render_pdf, first in the process   {t_first * 1000:9.1f}  {c_first * 1000:9.1f}")
    print(f"  render_pdf, median of {args.runs} more       {wall * 1000:9.1f}  {cpu * 1000:9.1f}")
    print(f"  PDF / HTML (CPU, median)           {cpu / c_html:9.0f}x")


if __name__ == "__main__":
    main()
