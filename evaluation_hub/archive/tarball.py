"""A bundle as one tar file: write it deterministically, read it without trusting it.

Writing (:func:`write_tar`, used by ``archive SESSION --out NAME.tar|NAME.tar.gz|NAME.tgz``):
the bundle directory becomes one top directory ``NAME/`` inside the tar, so unpacking it with
``tar -xf`` gives the same directory ``archive`` would have written. Members are in path order
(by path components, each directory before what it holds); every member has the manifest's
``created_at`` (whole seconds) as its mtime, uid and gid 0, no user or group name, and mode
0644 (files) or 0755 (directories); the format is POSIX pax; gzip headers carry no file name
and the same mtime. Nothing of the file system's metadata is copied (the directory writer leaves
each file with the time it was written), so the same bundle always gives the same bytes.

Reading (:func:`read_tar`, used by ``archive verify``): one sequential pass over the members,
nothing written to disk. Each member's header is checked before its data is read, and the first
unsafe member refuses the whole tar (:class:`TarRefused`, message ``unsafe tar: member 'NAME'
…``): an absolute path, a ``..`` component, a symbolic or hard link, a device file, FIFO or any
other type but a regular file or a directory, a name that appears twice, or a member outside the
tar's one top directory (the first component of the first member). Regular files are hashed as
they stream past; the contents are kept in memory only for the few small files the verifier
parses (``keep``), so gigabytes of recordings cost no memory and no temporary disk.

Memory stays bounded whatever the tar claims (``ReadLimits``): a kept file larger than
``max_kept_bytes`` is refused from its header, before its data is read; so is a pax or GNU
long-name header larger than ``max_header_bytes`` (``tarfile`` itself would read such a header
whole into memory: a gzip bomb of a few megabytes can declare gigabytes), a sparse member, and
a tar of more than ``max_members`` members.

File I/O only: no database, no clock.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import tarfile
import zlib
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from evaluation_hub.archive.errors import ArchiveError
from evaluation_hub.safe_tar import bounded_tarinfo

__all__ = [
    "ReadLimits",
    "TarBundle",
    "TarMember",
    "TarRefused",
    "is_tar_path",
    "read_tar",
    "tar_top",
    "write_tar",
]

# Output names that make ``archive`` write a tar, and whether it is gzip-compressed.
_SUFFIXES = {".tar": False, ".tar.gz": True, ".tgz": True}
_CHUNK = 1 << 20
_FILE_MODE = 0o644
_DIR_MODE = 0o755


def _suffix(path: Path) -> str | None:
    return next((s for s in _SUFFIXES if path.name.endswith(s)), None)


def is_tar_path(path: Path) -> bool:
    """Whether ``archive --out path`` writes a tar file (the name ends in .tar, .tar.gz, .tgz)."""
    return _suffix(path) is not None


def tar_top(path: Path) -> str:
    """The bundle's top directory inside the tar ``path``: its name without the tar suffix."""
    suffix = _suffix(path)
    assert suffix is not None, path
    return path.name[: -len(suffix)]


def _info(name: str, *, directory: bool, size: int, mtime: int) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = tarfile.DIRTYPE if directory else tarfile.REGTYPE
    info.mode = _DIR_MODE if directory else _FILE_MODE
    info.size = size
    info.mtime = mtime
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    return info


def write_tar(directory: Path, out: Path, *, mtime: datetime) -> None:
    """Pack the bundle ``directory`` into the new tar file ``out`` (see the module docstring).

    Writes a hidden sibling first and renames it into place, so ``out`` is complete or absent.
    """
    suffix = _suffix(out)
    assert suffix is not None, out
    top = tar_top(out)
    stamp = int(mtime.timestamp())
    paths = sorted(directory.rglob("*"), key=lambda p: p.relative_to(directory).parts)
    partial = out.with_name(f".{out.name}.packing-{os.getpid()}")
    try:
        with partial.open("xb") as raw:
            gz = (
                gzip.GzipFile(filename="", mode="wb", fileobj=raw, compresslevel=9, mtime=stamp)
                if _SUFFIXES[suffix]
                else None
            )
            sink: gzip.GzipFile | io.BufferedWriter = raw if gz is None else gz
            try:
                with tarfile.open(fileobj=sink, mode="w", format=tarfile.PAX_FORMAT) as tar:
                    tar.addfile(_info(top, directory=True, size=0, mtime=stamp))
                    for path in paths:
                        name = f"{top}/{path.relative_to(directory).as_posix()}"
                        if path.is_symlink() or not (path.is_dir() or path.is_file()):
                            raise ArchiveError(f"{path} is not a regular file or a directory")
                        if path.is_dir():
                            tar.addfile(_info(name, directory=True, size=0, mtime=stamp))
                            continue
                        size = path.stat().st_size
                        with path.open("rb") as f:
                            tar.addfile(_info(name, directory=False, size=size, mtime=stamp), f)
            finally:
                if gz is not None:
                    gz.close()
        partial.rename(out)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise


class TarRefused(Exception):
    """The tar is unsafe or damaged and was not read; the message names the member or the fault."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True, slots=True)
class ReadLimits:
    """What :func:`read_tar` reads at most; beyond any of these the tar is refused."""

    #: members of any kind (a day of ten-second recording segments of 20 seats is ~60 000)
    max_members: int = 200_000
    #: each file the verifier parses (manifest, audit slice, segment list)
    max_kept_bytes: int = 32 * 1024 * 1024
    #: each pax extended header or GNU long name/link header
    max_header_bytes: int = 1024 * 1024


def _bounded_info(limits: ReadLimits) -> type[tarfile.TarInfo]:
    return bounded_tarinfo(
        limits.max_header_bytes,
        oversized_header=lambda size, name: TarRefused(
            f"unsafe tar: a {size}-byte extended header (before member "
            f"{name!r}) is over the {limits.max_header_bytes}-byte limit"
        ),
        sparse=lambda name: TarRefused(f"unsafe tar: member {name!r} is a sparse file"),
    )


@dataclass(frozen=True, slots=True)
class TarMember:
    """A regular file of the tarred bundle: its hash, size, and contents if they were kept."""

    sha256: str
    size: int
    data: bytes | None


@dataclass(frozen=True, slots=True)
class TarBundle:
    """The files of a tarred bundle by their path inside its top directory ``top``."""

    top: str
    files: dict[str, TarMember]

    def names(self) -> set[str]:
        return set(self.files)

    def read(self, name: str) -> bytes | None:
        """The contents of ``name`` (one of ``keep``), or ``None`` if it is not a file here."""
        member = self.files.get(name)
        if member is None:
            return None
        if member.data is None:
            raise KeyError(f"{name} was not kept when the tar was read")
        return member.data

    def sha256(self, name: str) -> str | None:
        member = self.files.get(name)
        return None if member is None else member.sha256


def _kind(member: tarfile.TarInfo) -> str | None:
    """Why ``member``'s type is refused, or ``None`` for a regular file or a directory."""
    if member.issym():
        return f"is a symbolic link (to {member.linkname!r})"
    if member.islnk():
        return f"is a hard link (to {member.linkname!r})"
    if member.ischr():
        return "is a character device"
    if member.isblk():
        return "is a block device"
    if member.isfifo():
        return "is a FIFO"
    if not (member.isreg() or member.isdir()):
        return f"has type {member.type!r}, not a regular file or a directory"
    return None


def _problem(member: tarfile.TarInfo, top: str, seen: set[str]) -> str | None:
    """Why ``member`` makes the tar unsafe, or ``None``."""
    name = member.name
    parts = name.split("/")
    if name.startswith("/"):
        return "has an absolute path"
    if ".." in parts:
        return "has a '..' component"
    if (kind := _kind(member)) is not None:
        return kind
    if name in seen:
        return "appears more than once"
    if parts[0] != top:
        return f"is outside the bundle's top directory {top!r}"
    if len(parts) == 1 and not member.isdir():
        return "is a file where the bundle's top directory should be"
    return None


def read_tar(path: Path, keep: frozenset[str], limits: ReadLimits = ReadLimits()) -> TarBundle:
    """Hash every file of the tar ``path`` (plain or gzip), keeping the contents of ``keep``.

    Raises :class:`TarRefused` for the first unsafe member, for anything over ``limits``, or if
    the tar cannot be read to its end. Paths in the result (and in ``keep``) are relative to
    the top directory.
    """
    files: dict[str, TarMember] = {}
    seen: set[str] = set()
    top: str | None = None
    try:
        with tarfile.open(path, mode="r|*", tarinfo=_bounded_info(limits)) as tar:
            for member in tar:
                if top is None:
                    top = member.name.split("/")[0]
                problem = _problem(member, top, seen)
                if problem is not None:
                    raise TarRefused(f"unsafe tar: member {member.name!r} {problem}")
                if len(seen) >= limits.max_members:
                    raise TarRefused(f"unsafe tar: more than {limits.max_members} members")
                seen.add(member.name)
                if not member.isreg():
                    continue
                relative = member.name[len(top) + 1 :]
                if relative in keep and member.size > limits.max_kept_bytes:
                    raise TarRefused(
                        f"unsafe tar: member {member.name!r} is {member.size} bytes, over the "
                        f"{limits.max_kept_bytes}-byte limit for a file the verifier reads"
                    )
                source = tar.extractfile(member)
                assert source is not None  # a regular file always has data
                digest = hashlib.sha256()
                kept = bytearray() if relative in keep else None
                while chunk := source.read(_CHUNK):
                    digest.update(chunk)
                    if kept is not None:
                        kept += chunk
                files[relative] = TarMember(
                    digest.hexdigest(), member.size, None if kept is None else bytes(kept)
                )
    except (tarfile.TarError, OSError, EOFError, zlib.error) as exc:
        raise TarRefused(
            f"damaged tar: {path} cannot be read ({type(exc).__name__}: {exc})"
        ) from exc
    if top is None:
        raise TarRefused(f"damaged tar: {path} holds no members")
    return TarBundle(top, files)
