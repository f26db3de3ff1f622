"""Unpack an uploaded bid package (zip or tar, optionally gzip-compressed) without trusting it.

The host operator uploads the package from the console page; the file came from a bidding
system or an agent's laptop, so every member is checked before anything of it is written, and
the first unsafe member refuses the whole upload (:class:`UnsafePackage`, a Chinese message the
console shows as it is). Refused:

* a name that is absolute (``/x``, ``C:x``), has a ``..`` component, a backslash, a NUL or a
  control character, or is empty;
* a symbolic or hard link, a device, a FIFO, a sparse member or any type but a regular file or
  a directory (a zip member whose Unix mode says link counts as a link);
* a name that appears twice (zip allows it; which copy would be "the" chapter?);
* an encrypted zip member;
* more than ``max_members`` members, a file over ``max_file_bytes``, or more than
  ``max_total_bytes`` in all, counted on the bytes actually written, never on the sizes the
  archive declares (a zip bomb declares small sizes); a tar extended header over
  ``max_header_bytes`` (``tarfile`` reads such a header whole into memory).

The package is the folder holding ``package.yaml``: the archive's root, or its one top folder
(how zipping a folder usually comes out). Everything is written under ``dest`` with modes 0600
and 0700, and nothing outside it; on refusal ``dest`` is removed again.

File I/O only: no database, no clock.
"""

from __future__ import annotations

import shutil
import stat
import tarfile
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from evaluation_hub.bids.package_io import MAX_CHAPTER_FILES, MAX_FILE_BYTES
from evaluation_hub.safe_tar import bounded_tarinfo
from scoring.package import PACKAGE_FILE

__all__ = ["UnpackLimits", "UnsafePackage", "archive_kind", "unpack_package"]

_CHUNK = 1 << 20
_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")  # a local file header, or an empty zip's end record
_GZIP_MAGIC = b"\x1f\x8b"


class UnsafePackage(Exception):
    """The upload is refused; ``str(exc)`` is the message for the host operator."""


@dataclass(frozen=True, slots=True)
class UnpackLimits:
    #: members of any kind (the package reader takes at most MAX_CHAPTER_FILES chapters)
    max_members: int = MAX_CHAPTER_FILES + 100
    #: each file, as the package reader would refuse it anyway
    max_file_bytes: int = MAX_FILE_BYTES
    #: everything written (50 bidders × 40 chapters of 100 KB is 200 MB)
    max_total_bytes: int = 512 * 1024 * 1024
    #: each tar extended (pax) or GNU long-name header
    max_header_bytes: int = 64 * 1024


def archive_kind(head: bytes) -> str | None:
    """``"zip"`` or ``"tar"`` (plain or gzip) from the file's first 512 bytes, else ``None``."""
    if head.startswith(_ZIP_MAGIC):
        return "zip"
    if head.startswith(_GZIP_MAGIC) or head[257:262] == b"ustar":
        return "tar"
    return None


def _name_problem(name: str) -> str | None:
    if not name or name in {".", "./"}:
        return "名称为空"
    if "\\" in name:
        return "名称含有反斜杠"
    if any(ord(c) < 32 or c == "\x7f" for c in name):
        return "名称含有控制字符"
    if name.startswith("/") or (len(name) > 1 and name[1] == ":"):
        return "是绝对路径"
    if ".." in name.split("/"):
        return "含有「..」"
    return None


def _refuse(name: str, why: str) -> UnsafePackage:
    shown = name if len(name) <= 120 else name[:117] + "…"
    return UnsafePackage(f"标书包压缩文件中的「{shown}」{why}，已拒绝整个标书包")


@dataclass
class _Budget:
    limits: UnpackLimits
    members: int = 0
    total: int = 0

    def member(self) -> None:
        self.members += 1
        if self.members > self.limits.max_members:
            raise UnsafePackage(
                f"标书包压缩文件的成员超过 {self.limits.max_members} 个，已拒绝整个标书包"
            )


def _relative(name: str) -> tuple[str, ...]:
    return tuple(p for p in name.split("/") if p not in {"", "."})


def _write(source: IO[bytes], target: Path, name: str, budget: _Budget) -> None:
    """Copy ``source`` to ``target`` counting the bytes actually read."""
    written = 0
    limits = budget.limits
    with target.open("xb") as out:  # x: a duplicate that slipped past the name check fails here
        target.chmod(0o600)
        while chunk := source.read(_CHUNK):
            written += len(chunk)
            budget.total += len(chunk)
            if written > limits.max_file_bytes:
                raise _refuse(name, f"超过单个文件 {limits.max_file_bytes} 字节的上限")
            if budget.total > limits.max_total_bytes:
                raise UnsafePackage(
                    f"标书包解压后超过 {limits.max_total_bytes} 字节的上限，已拒绝整个标书包"
                )
            out.write(chunk)


def _place(root: Path, parts: tuple[str, ...], *, directory: bool) -> Path:
    """The path of ``parts`` under ``root``, its parent folders made (0700)."""
    target = root.joinpath(*parts)
    folder = target if directory else target.parent
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    return target


def _zip_members(path: Path, root: Path, budget: _Budget) -> None:
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise UnsafePackage(f"上传的 zip 文件已损坏，无法读取（{exc}）") from None
    with archive:
        seen: set[tuple[str, ...]] = set()
        for info in archive.infolist():
            budget.member()
            name = info.filename
            if (why := _name_problem(name)) is not None:
                raise _refuse(name, why)
            # The Unix mode, when the zip was made on Unix; its type bits may be absent.
            kind = stat.S_IFMT(info.external_attr >> 16)
            if kind == stat.S_IFLNK:
                raise _refuse(name, "是符号链接")
            if kind not in {0, stat.S_IFREG, stat.S_IFDIR}:
                raise _refuse(name, "不是普通文件或目录")
            if info.flag_bits & 0x1:
                raise _refuse(name, "已加密")
            parts = _relative(name)
            if parts in seen:
                raise _refuse(name, "重复出现")
            seen.add(parts)
            if info.is_dir():
                _place(root, parts, directory=True)
                continue
            try:
                with archive.open(info) as source:
                    _write(source, _place(root, parts, directory=False), name, budget)
            except (zipfile.BadZipFile, NotImplementedError, EOFError, OSError) as exc:
                if isinstance(exc, FileExistsError):
                    raise _refuse(name, "重复出现") from None
                raise UnsafePackage(f"上传的 zip 文件已损坏，无法读取「{name}」（{exc}）") from None


def _bounded_info(limits: UnpackLimits) -> type[tarfile.TarInfo]:
    return bounded_tarinfo(
        limits.max_header_bytes,
        oversized_header=lambda size, _name: UnsafePackage(
            f"标书包压缩文件含有 {size} 字节的扩展头，超过 "
            f"{limits.max_header_bytes} 字节的上限，已拒绝整个标书包"
        ),
        sparse=lambda name: _refuse(name, "是稀疏文件"),
    )


def _tar_kind(member: tarfile.TarInfo) -> str | None:
    if member.issym() or member.islnk():
        return "是链接"
    if not (member.isreg() or member.isdir()):
        return "不是普通文件或目录"
    return None


def _tar_members(path: Path, root: Path, budget: _Budget) -> None:
    seen: set[tuple[str, ...]] = set()
    try:
        # "r|*": one sequential pass (plain or gzip); nothing is extracted by tarfile itself.
        with tarfile.open(path, "r|*", tarinfo=_bounded_info(budget.limits)) as archive:
            for member in _tar_iter(archive):
                budget.member()
                name = member.name
                if (why := _name_problem(name) or _tar_kind(member)) is not None:
                    raise _refuse(name, why)
                parts = _relative(name)
                if parts in seen:
                    raise _refuse(name, "重复出现")
                seen.add(parts)
                if member.isdir():
                    _place(root, parts, directory=True)
                    continue
                source = archive.extractfile(member)
                if source is None:  # pragma: no cover - a regular member always has data
                    raise _refuse(name, "无法读取")
                _write(source, _place(root, parts, directory=False), name, budget)
    except (tarfile.TarError, EOFError, OSError) as exc:
        raise UnsafePackage(f"上传的 tar 文件已损坏，无法读取（{exc}）") from None


def _tar_iter(archive: tarfile.TarFile) -> Iterator[tarfile.TarInfo]:
    while (member := archive.next()) is not None:
        yield member


def _package_root(root: Path) -> Path:
    """The folder holding the package file: ``root`` or its one top folder."""
    if (root / PACKAGE_FILE).is_file():
        return root
    entries = list(root.iterdir())
    if len(entries) == 1 and entries[0].is_dir() and (entries[0] / PACKAGE_FILE).is_file():
        return entries[0]
    raise UnsafePackage(
        f"标书包压缩文件中找不到 {PACKAGE_FILE}：它应在压缩文件的根目录，或唯一的顶层文件夹中"
    )


def unpack_package(path: Path, dest: Path, limits: UnpackLimits = UnpackLimits()) -> Path:
    """Unpack the zip or tar at ``path`` into the new folder ``dest``; returns the package's
    folder (``dest`` or its one top folder). Raises :class:`UnsafePackage` (and leaves no
    ``dest``) on the first unsafe member or a limit passed."""
    with path.open("rb") as f:
        kind = archive_kind(f.read(512))
    if kind is None:
        raise UnsafePackage("上传的文件不是 zip 或 tar（.tar、.tar.gz、.tgz）格式的标书包")
    dest.mkdir(mode=0o700, parents=False, exist_ok=False)
    try:
        budget = _Budget(limits)
        if kind == "zip":
            _zip_members(path, dest, budget)
        else:
            _tar_members(path, dest, budget)
        return _package_root(dest)
    except BaseException:
        shutil.rmtree(dest, ignore_errors=True)
        raise
