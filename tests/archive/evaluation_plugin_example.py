"""A stand-in for ``evaluation_hub.evaluation.archive`` in tests: the plug-in contract."""

from __future__ import annotations

from evaluation_hub.archive.sections import ArchiveContext, BundleFile, json_file


async def archive_section(ctx: ArchiveContext) -> list[BundleFile]:
    report = f"<html><body>评标报告 #{ctx.session_id}</body></html>".encode()
    return [
        BundleFile("evaluation/report.html", data=report),
        json_file("evaluation/signatures.json", [{"expert": "E01", "signed": True}]),
    ]
