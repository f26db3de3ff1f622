"""Read a bid package directory (docs/bid-package.md) and hand it to the pure importer.

Reading problems — a missing directory aside — become ``PackageProblem`` entries so the
admin sees them with every other problem in one report. This module must never interpret
the package: that is ``scoring.package``'s job.

Every file is read within bounds: a chapter at most ``MAX_FILE_BYTES``, a YAML document at most
``safe_yaml.MAX_DOCUMENT_BYTES`` with no anchors or aliases (an alias bomb is refused at its
first alias, never expanded) and bounded nodes and depth, at most ``MAX_CHAPTER_FILES`` chapter
files.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from evaluation_hub.bids.safe_yaml import MAX_DOCUMENT_BYTES, YamlRefused, load_bounded
from scoring.errors import PackageProblem
from scoring.model import BidPackage
from scoring.package import DOCUMENT_FILES, parse_package

__all__ = ["MAX_CHAPTER_FILES", "MAX_FILE_BYTES", "read_package"]

#: a chapter file larger than this is refused (a technical chapter is tens of KB)
MAX_FILE_BYTES = 8 * 1024 * 1024
#: files under chapters/ (50 bidders × 40 chapters would be a very large section)
MAX_CHAPTER_FILES = 5000


def _read_bytes(
    path: Path, name: str, problems: list[PackageProblem], limit: int = MAX_FILE_BYTES
) -> bytes | None:
    if path.is_symlink():
        problems.append(PackageProblem(name, "-", "是符号链接；请放入文件本身"))
        return None
    size = path.stat().st_size
    if size > limit:
        problems.append(PackageProblem(name, "-", f"文件大小 {size} 字节，超过上限 {limit} 字节"))
        return None
    # Read no more than the limit even if the file grew since it was measured.
    with path.open("rb") as f:
        data = f.read(limit + 1)
    if len(data) > limit:
        problems.append(PackageProblem(name, "-", f"文件大小超过上限 {limit} 字节"))
        return None
    return data


def read_package(directory: Path) -> BidPackage:
    """Read and validate the package in ``directory``.

    Raises ``FileNotFoundError`` when the directory does not exist and
    ``scoring.errors.PackageInvalid`` listing every problem otherwise.
    """
    if not directory.is_dir():
        raise FileNotFoundError(f"bid package directory {directory} does not exist")
    problems: list[PackageProblem] = []
    documents: dict[str, object] = {}
    for name in DOCUMENT_FILES:
        path = directory / name
        if not path.exists():
            continue  # the importer reports it missing
        raw = _read_bytes(path, name, problems, MAX_DOCUMENT_BYTES)
        if raw is None:
            continue
        try:
            documents[name] = load_bounded(raw.decode("utf-8-sig"))
        except UnicodeDecodeError as exc:
            problems.append(PackageProblem(name, "-", f"不是 UTF-8 编码（第 {exc.start} 字节）"))
        except YamlRefused as exc:
            where = f"第 {exc.line} 行第 {exc.column} 列" if exc.line else "-"
            problems.append(PackageProblem(name, where, exc.message))
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f"第 {mark.line + 1} 行第 {mark.column + 1} 列" if mark is not None else "-"
            problems.append(PackageProblem(name, where, f"YAML 语法错误：{exc}"))
    chapters: dict[str, bytes] = {}
    chapter_dir = directory / "chapters"
    if chapter_dir.is_dir():
        for n, path in enumerate(sorted(chapter_dir.rglob("*"))):
            if n >= MAX_CHAPTER_FILES:
                problems.append(
                    PackageProblem("chapters", "-", f"文件过多：超过 {MAX_CHAPTER_FILES} 个")
                )
                break
            if path.is_dir() and not path.is_symlink():
                continue
            rel = path.relative_to(directory).as_posix()
            raw = _read_bytes(path, rel, problems)
            if raw is not None:
                chapters[rel] = raw
    return parse_package(documents, chapters, read_problems=problems)
