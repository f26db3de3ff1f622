"""``archive verify`` of a gzip bomb stays within bounded memory and names what it refused.

Each bomb is a few hundred kilobytes of gzip that unpacks to 400 MiB: a ``manifest.json`` (a
file the verifier reads) of 400 MiB, or a pax extended header of 400 MiB (which ``tarfile``
would read whole before the member it describes). The real command runs in its own process;
its peak resident memory comes from ``wait4``. The bound, 200 MiB, is half of what either bomb
would cost if it were read; the command itself needs about a third of that.
"""

from __future__ import annotations

import struct
import subprocess
import sys
import tarfile
import zlib
from pathlib import Path

import pytest

from evaluation_hub.archive.tarball import ReadLimits, TarRefused, read_tar

MiB = 1024 * 1024
BOMB = 400 * MiB
PEAK_RSS_BOUND = 200 * MiB
_ZERO_MIB = bytes(MiB)


def _raw(data: bytes, mode: int) -> bytes:
    deflate = zlib.compressobj(9, zlib.DEFLATED, -15)
    return deflate.compress(data) + deflate.flush(mode)


def gzip_bomb(path: Path, prefix: bytes, zero_mib: int, suffix: bytes = b"") -> None:
    """A gzip of ``prefix``, ``zero_mib`` MiB of zero bytes and ``suffix``, written in a moment:
    one compressed MiB of zeros (a full flush makes it stand alone) repeated."""
    block = _raw(_ZERO_MIB, zlib.Z_FULL_FLUSH)
    crc = zlib.crc32(prefix)
    with path.open("wb") as out:
        out.write(b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff")
        out.write(_raw(prefix, zlib.Z_FULL_FLUSH))
        for _ in range(zero_mib):
            out.write(block)
            crc = zlib.crc32(_ZERO_MIB, crc)
        out.write(_raw(suffix, zlib.Z_FINISH))
        crc = zlib.crc32(suffix, crc)
        size = len(prefix) + zero_mib * MiB + len(suffix)
        out.write(struct.pack("<II", crc & 0xFFFFFFFF, size & 0xFFFFFFFF))


def _header(name: str, size: int, kind: bytes = tarfile.REGTYPE) -> bytes:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.size = size
    info.mode = 0o755 if kind == tarfile.DIRTYPE else 0o644
    return info.tobuf(tarfile.USTAR_FORMAT)


def kept_file_bomb(path: Path) -> None:
    """A bundle whose manifest.json is 400 MiB of zeros (the tar's padding and end are zeros)."""
    prefix = _header("bundle", 0, tarfile.DIRTYPE) + _header("bundle/manifest.json", BOMB)
    gzip_bomb(path, prefix, BOMB // MiB + 1)


def pax_header_bomb(path: Path) -> None:
    """A 400 MiB pax extended header in front of the first member."""
    prefix = _header("bundle", 0, tarfile.DIRTYPE) + _header(
        "././@PaxHeader", BOMB, tarfile.XHDTYPE
    )
    gzip_bomb(path, prefix, BOMB // MiB + 1)


# Runs the command and prints its peak RSS. A small process of its own, because a child's
# ru_maxrss counts what it inherited at fork: forked from pytest, it would start at pytest's size.
_LAUNCHER = """
import resource, subprocess, sys
done = subprocess.run(sys.argv[1:], capture_output=True, text=True)
sys.stdout.write(done.stdout + done.stderr)
print(done.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
"""


def _verify(bundle: Path) -> tuple[int, str, int]:
    """``evaluation-hub archive verify`` in its own process: exit status, output, peak RSS."""
    command = [sys.executable, "-m", "evaluation_hub.cli", "archive", "verify", str(bundle)]
    launched = subprocess.run(
        [sys.executable, "-c", _LAUNCHER, *command],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    output, _, last = launched.stdout.rstrip("\n").rpartition("\n")
    status, peak_kib = (int(n) for n in last.split())
    return status, output + "\n", peak_kib * 1024  # ru_maxrss is in KiB on Linux


@pytest.mark.parametrize(
    ("make", "refusal"),
    [
        (
            kept_file_bomb,
            "unsafe tar: member 'bundle/manifest.json' is 419430400 bytes, over the "
            "33554432-byte limit for a file the verifier reads",
        ),
        (
            pax_header_bomb,
            "unsafe tar: a 419430400-byte extended header (before member '././@PaxHeader') is "
            "over the 1048576-byte limit",
        ),
    ],
)
def test_a_gzip_bomb_is_refused_within_bounded_memory(
    tmp_path: Path, make: object, refusal: str
) -> None:
    bomb = tmp_path / "bomb.tar.gz"
    assert callable(make)
    make(bomb)
    assert bomb.stat().st_size < MiB
    status, output, peak = _verify(bomb)
    assert (status, output) == (1, f"{refusal}\n")
    assert peak < PEAK_RSS_BOUND, f"peak RSS {peak / MiB:.0f} MiB"


def test_the_limits_are_what_read_tar_applies(tmp_path: Path) -> None:
    bomb = tmp_path / "members.tar.gz"
    names = b"".join(_header(f"bundle/{n}", 0) for n in range(5))
    gzip_bomb(bomb, _header("bundle", 0, tarfile.DIRTYPE) + names, 1)
    with pytest.raises(TarRefused) as refused:
        read_tar(bomb, frozenset(), ReadLimits(max_members=4))
    assert refused.value.message == "unsafe tar: more than 4 members"
