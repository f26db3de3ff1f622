"""The `bids` and `shuffle` commands, through the parsers `add_commands` builds."""

from __future__ import annotations

import argparse
import io
import json
import shutil
from pathlib import Path

import pytest
import yaml

from evaluation_hub.bids import package_io
from evaluation_hub.bids.cli import add_commands
from scoring.shuffle import ShuffleManifest, commitment
from tests.scoring.helpers import DEMO_PACKAGE

MANIFEST = {
    "session_id": "YN-2025-0417-SG01",
    "experts": ["E1", "E2", "E3"],
    "chapters": ["ch1", "ch2", "ch3"],
    "bidders": ["b01", "b02", "b03", "b04", "b05"],
}


def _run(*argv: str) -> tuple[int, str, str]:
    parser = argparse.ArgumentParser(prog="evaluation-hub")
    add_commands(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    args.stdout, args.stderr = io.StringIO(), io.StringIO()
    code = args.func(args)
    return code, args.stdout.getvalue(), args.stderr.getvalue()


def test_bids_check_reports_the_demo_findings() -> None:
    code, out, _ = _run("bids", "check", str(DEMO_PACKAGE))
    assert code == 1
    assert "投标人 5 家，技术暗标章节 3 章，导入检查通过。" in out
    assert "一、暗标合规检查：发现 4 处标识信息" in out
    assert "以下章节在记录放行理由前不得发放给专家：b03/ch2" in out
    assert "  - 章节 ch3：投标人 b02 与 b05，相似度（Jaccard）0.90，包含度 0.95" in out
    assert out.rstrip().endswith("结论：存在问题，须处理后方可发放")


def test_bids_check_prints_evasions_and_marks(tmp_path: Path) -> None:
    package = tmp_path / "pkg"
    shutil.copytree(DEMO_PACKAGE, package)
    (package / "chapters/b01/ch1.md").write_text(
        '# 第一章\n本章由<span style="color:#c00000">昆明 金马</span>编写。\n', "utf-8"
    )
    code, out, _ = _run("bids", "check", str(package))
    assert code == 1
    lines = out.splitlines()
    assert "一、暗标合规检查：发现 5 处标识信息、1 处暗记" in lines
    # the span is the original's (line 2, column 32, 5 characters with the space), and what
    # it folds to says why it is a mark
    assert (
        "  - 投标人 b01 章节 ch1 第 2 行第 32 列（5 字）：投标人名称「昆明 金马」"
        "（归一化后即「昆明金马」）（属于投标人 b03）…# 第一章 本章由昆明 金马编写。…"
    ) in lines
    marks = lines.index(
        "  暗记（颜色、字体、字号、图片、页眉页脚、隐藏内容、异常符号、重复的特殊字符串）："
    )
    assert lines[marks + 1].startswith(
        "  - 投标人 b01 章节 ch1 第 2 行第 17 列（13 字）：颜色标记「color:#c00000」"
    )
    assert "以下章节在记录放行理由前不得发放给专家：b01/ch1、b03/ch2" in out


def test_bids_check_passes_a_clean_package(tmp_path: Path) -> None:
    package = tmp_path / "pkg"
    shutil.copytree(DEMO_PACKAGE, package)
    (package / "chapters/b03/ch2.md").write_text(
        "# 第二章\n质量与安全措施按规范执行，专人负责。", "utf-8"
    )
    (package / "chapters/b05/ch3.md").write_text(
        "# 第三章\n工期三百六十天，分四个阶段推进。", "utf-8"
    )
    code, out, _ = _run("bids", "check", str(package))
    assert code == 0
    assert "一、暗标合规检查：未发现问题" in out
    assert "二、标书雷同检查：未发现雷同" in out
    assert out.rstrip().endswith("结论：通过")


def test_bids_check_lists_every_import_problem(tmp_path: Path) -> None:
    package = tmp_path / "pkg"
    shutil.copytree(DEMO_PACKAGE, package)
    (package / "prices.yaml").write_text("prices: [\n", "utf-8")
    (package / "chapters/b01/ch1.md").unlink()
    (package / "chapters/b02/ch2.md").unlink()
    (package / "chapters/b02/ch2.md").symlink_to(package / "chapters/b01/ch2.md")
    code, out, _ = _run("bids", "check", str(package))
    assert code == 2
    lines = out.splitlines()
    assert lines[0] == "标书包导入失败，共 3 个问题，请全部修正后重新导入："
    assert lines[1].startswith("  - prices.yaml  第 2 行第 1 列：YAML 语法错误：")
    assert "  - chapters/b02/ch2.md  -：是符号链接；请放入文件本身" in lines
    assert "  - chapters/b01/ch1.md  -：缺少投标人 b01 的章节 ch1" in lines


def test_bids_check_without_a_directory(tmp_path: Path) -> None:
    code, out, err = _run("bids", "check", str(tmp_path / "missing"))
    assert (code, out) == (2, "")
    assert err == f"错误：bid package directory {tmp_path / 'missing'} does not exist\n"


def test_shuffle_commit_view_reveal_verify(tmp_path: Path) -> None:
    manifest = tmp_path / "manifest.yaml"
    manifest.write_text(yaml.safe_dump(MANIFEST), "utf-8")
    seed_file = tmp_path / "seed.hex"
    code, out, _ = _run(
        "shuffle",
        "commit",
        "--manifest",
        str(manifest),
        "--seed-file",
        str(seed_file),
        "--new-seed",
    )
    assert code == 0
    seed = bytes.fromhex(seed_file.read_text())
    assert len(seed) == 32
    assert seed_file.stat().st_mode & 0o777 == 0o600
    committed = out.strip()
    m = ShuffleManifest(
        "YN-2025-0417-SG01",
        ("E1", "E2", "E3"),
        ("ch1", "ch2", "ch3"),
        ("b01", "b02", "b03", "b04", "b05"),
    )
    assert committed == commitment(seed, m)
    # a second --new-seed must not overwrite the seed
    code, _, err = _run(
        "shuffle",
        "commit",
        "--manifest",
        str(manifest),
        "--seed-file",
        str(seed_file),
        "--new-seed",
    )
    assert code == 2
    assert err == f"error: seed file {seed_file} already exists; refusing to overwrite a seed\n"

    code, out, _ = _run(
        "shuffle",
        "view",
        "--manifest",
        str(manifest),
        "--seed-file",
        str(seed_file),
        "--expert",
        "E2",
    )
    assert code == 0
    view = json.loads(out)
    assert view["expert"] == "E2"
    assert [len(c["labels"]) for c in view["chapters"]] == [5, 5, 5]
    assert not any(b in out for b in MANIFEST["bidders"])

    code, out, _ = _run(
        "shuffle", "view", "--manifest", str(manifest), "--seed-file", str(seed_file), "--reveal"
    )
    published = tmp_path / "published.json"
    published.write_text(out, "utf-8")

    code, out, _ = _run(
        "shuffle",
        "verify",
        "--manifest",
        str(manifest),
        "--seed",
        seed.hex(),
        "--commitment",
        committed,
        "--views",
        str(published),
    )
    assert (code, out) == (
        0,
        "验证通过：种子与承诺值一致，并逐一核对了 3 位专家 × 3 章的公布视图。\n",
    )

    # tamper with one published view
    doc = json.loads(published.read_text())
    doc["views"]["E1"]["ch1"][0][1], doc["views"]["E1"]["ch1"][1][1] = (
        doc["views"]["E1"]["ch1"][1][1],
        doc["views"]["E1"]["ch1"][0][1],
    )
    published.write_text(json.dumps(doc), "utf-8")
    code, out, _ = _run(
        "shuffle",
        "verify",
        "--manifest",
        str(manifest),
        "--seed-file",
        str(seed_file),
        "--commitment",
        committed,
        "--views",
        str(published),
    )
    assert code == 1
    assert out.startswith(
        "验证失败：1 published view(s) differ from the ones the seed derives:\n  expert E1 chapter ch1:"
    )

    # another seed does not match the commitment
    code, out, _ = _run(
        "shuffle",
        "verify",
        "--manifest",
        str(manifest),
        "--seed",
        "00" * 32,
        "--commitment",
        committed,
    )
    assert code == 1
    assert out.startswith("验证失败：the revealed seed and manifest hash to ")


def test_shuffle_input_errors(tmp_path: Path) -> None:
    manifest = tmp_path / "manifest.yaml"
    manifest.write_text(yaml.safe_dump(dict(MANIFEST, experts=["E1", "E1"])), "utf-8")
    code, _, err = _run(
        "shuffle", "verify", "--manifest", str(manifest), "--seed", "00" * 32, "--commitment", "ab"
    )
    assert (code, err) == (2, "error: expert ids must be non-empty and unique\n")
    manifest.write_text(yaml.safe_dump(MANIFEST), "utf-8")
    code, _, err = _run(
        "shuffle", "verify", "--manifest", str(manifest), "--seed", "00" * 16, "--commitment", "ab"
    )
    assert (code, err) == (2, "error: the seed must be at least 32 bytes (64 hex digits)\n")
    code, _, err = _run(
        "shuffle", "verify", "--manifest", str(manifest), "--seed", "zz", "--commitment", "ab"
    )
    assert (code, err) == (2, "error: the seed must be hex digits\n")
    bad_views = tmp_path / "views.json"
    bad_views.write_text('{"views": {"E1": {"ch1": [["AB"]]}}}', "utf-8")
    code, _, err = _run(
        "shuffle",
        "verify",
        "--manifest",
        str(manifest),
        "--seed",
        "00" * 32,
        "--commitment",
        "ab",
        "--views",
        str(bad_views),
    )
    assert code == 2
    assert err == (
        f"error: {bad_views}: published views are a JSON object whose `views` maps expert → "
        f"chapter → [[label, bidder], …]\n"
    )
    code, _, err = _run(
        "shuffle",
        "view",
        "--manifest",
        str(manifest),
        "--seed-file",
        str(tmp_path / "none"),
        "--expert",
        "E1",
    )
    assert code == 2
    assert err.startswith(f"error: cannot read seed file {tmp_path / 'none'}: ")
    seed_file = tmp_path / "seed"
    seed_file.write_text("11" * 32)
    code, _, err = _run(
        "shuffle",
        "view",
        "--manifest",
        str(manifest),
        "--seed-file",
        str(seed_file),
        "--expert",
        "E9",
    )
    assert (code, err) == (2, "error: expert E9 is not in the manifest\n")


def test_oversized_and_non_utf8_files_are_problems(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    package = tmp_path / "pkg"
    shutil.copytree(DEMO_PACKAGE, package)
    (package / "bidders.yaml").write_bytes(b"bidders: [\xff]")
    monkeypatch.setattr(package_io, "MAX_DOCUMENT_BYTES", 3000)  # the YAML files' bound
    code, out, _ = _run("bids", "check", str(package))
    assert code == 2
    size = (package / "rubric.yaml").stat().st_size
    # only the two unreadable files: nothing is checked against what could not be read, so
    # the prices and chapters of the unknown bidders are not reported a second time
    assert out.splitlines() == [
        "标书包导入失败，共 2 个问题，请全部修正后重新导入：",
        "  - bidders.yaml  -：不是 UTF-8 编码（第 10 字节）",
        f"  - rubric.yaml  -：文件大小 {size} 字节，超过上限 3000 字节",
    ]
