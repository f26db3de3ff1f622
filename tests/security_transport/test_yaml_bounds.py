"""Bid package YAML is read within bounds: an alias bomb is refused at its first anchor, never
expanded; deep nesting, too many nodes and oversized files are refused with their place; a bad
value is quoted in a problem only in part, and a report lists at most 200 problems.

The demo package is copied and one file replaced; ``bids check`` runs as the real command.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from evaluation_hub.bids.package_io import read_package
from evaluation_hub.bids.safe_yaml import MAX_DOCUMENT_BYTES
from evaluation_hub.bids.shuffle_io import InputError, read_manifest
from scoring.errors import PackageInvalid

DEMO = Path(__file__).resolve().parents[2] / "configs" / "demo" / "bid_package"


def alias_bomb() -> str:
    """859 bytes that ``yaml.safe_load`` unfolds into 10^6 strings (tens of megabytes once a
    problem quotes them): each level lists the previous one ten times."""
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for prev, name in zip("abcde", "bcdef", strict=True):
        lines.append(f"{name}: &{name} [" + ",".join([f"*{prev}"] * 10) + "]")
    lines.append("format: *f")
    text = "\n".join(lines) + "\n"
    return text + "#" * (858 - len(text)) + "\n"


@pytest.fixture
def package(tmp_path: Path) -> Path:
    target = tmp_path / "bid_package"
    shutil.copytree(DEMO, target)
    return target


def _problems(directory: Path) -> list[str]:
    with pytest.raises(PackageInvalid) as refused:
        read_package(directory)
    return [f"{p.file} {p.field} {p.message}" for p in refused.value.problems]


def test_an_alias_bomb_is_refused_not_expanded(package: Path) -> None:
    bomb = alias_bomb()
    assert len(bomb.encode()) == 859
    (package / "package.yaml").write_text(bomb, encoding="utf-8")
    assert _problems(package) == [
        "package.yaml 第 1 行第 4 列 使用了 YAML 锚点（&a）：标书包文件不接受锚点和别名，请直接写出内容"
    ]
    # The real command, in its own process: a clear message and exit status 2, at once.
    checked = subprocess.run(
        [sys.executable, "-m", "evaluation_hub.cli", "bids", "check", str(package)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert (checked.returncode, checked.stdout) == (
        2,
        "标书包导入失败，共 1 个问题，请全部修正后重新导入：\n"
        "  - package.yaml  第 1 行第 4 列：使用了 YAML 锚点（&a）：标书包文件不接受锚点和别名，"
        "请直接写出内容\n",
    )


def test_an_alias_without_its_anchor_and_a_merge_key_are_refused(package: Path) -> None:
    (package / "prices.yaml").write_text("prices: *elsewhere\n", encoding="utf-8")
    (package / "rubric.yaml").write_text(
        "technical:\n  ch1:\n    - <<: *item\n      id: x\n", encoding="utf-8"
    )
    problems = _problems(package)
    assert [p for p in problems if "别名" in p] == [
        "rubric.yaml 第 3 行第 11 列 使用了 YAML 别名（*item）：标书包文件不接受锚点和别名，请直接写出内容",
        "prices.yaml 第 1 行第 9 列 使用了 YAML 别名（*elsewhere）：标书包文件不接受锚点和别名，请直接写出内容",
    ]


def test_deep_nesting_too_many_nodes_and_big_files_are_refused(package: Path) -> None:
    (package / "package.yaml").write_text("format: " + "[" * 1000 + "]" * 1000 + "\n")
    (package / "bidders.yaml").write_text("bidders: [" + "1," * 250_000 + "1]\n")
    (package / "prices.yaml").write_text("#" * (MAX_DOCUMENT_BYTES + 1))
    assert _problems(package)[:3] == [
        "package.yaml 第 1 行第 72 列 YAML 嵌套过深：超过 64 层",
        "bidders.yaml 第 1 行第 400005 列 YAML 内容过多：超过 200000 个节点",
        f"prices.yaml - 文件大小 {MAX_DOCUMENT_BYTES + 1} 字节，超过上限 {MAX_DOCUMENT_BYTES} 字节",
    ]


def test_a_bad_value_is_quoted_only_in_part_and_a_report_stays_short(package: Path) -> None:
    (package / "package.yaml").write_text(f"format: {'x' * 100_000}\n", encoding="utf-8")
    problems = _problems(package)
    assert problems[0] == f"package.yaml format 应为 'bid-package/1'，实际为 '{'x' * 78}…"
    # A thousand bad bidder rows: 200 problems listed, the rest counted.
    rows = "".join(f"  - {{id: '!{n}', name: n{n}}}\n" for n in range(1000))
    (package / "package.yaml").write_text((DEMO / "package.yaml").read_text(encoding="utf-8"))
    (package / "bidders.yaml").write_text(f"bidders:\n{rows}", encoding="utf-8")
    problems = _problems(package)
    assert len(problems) == 201
    assert problems[-1].startswith("- - 另有 ") and problems[-1].endswith(" 个问题未列出")


def test_a_shuffle_manifest_with_aliases_is_refused(tmp_path: Path) -> None:
    manifest = tmp_path / "manifest.yaml"
    manifest.write_text(
        'session_id: "1"\nexperts: &e [E1, E2]\nchapters: *e\nbidders: [b1]\n', encoding="utf-8"
    )
    with pytest.raises(InputError) as refused:
        read_manifest(manifest)
    assert str(refused.value) == (
        f"cannot read manifest {manifest}: line 2: 使用了 YAML 锚点（&e）：标书包文件不接受锚点和"
        "别名，请直接写出内容"
    )
