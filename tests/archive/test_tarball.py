"""Tar bundles: ``archive verify`` refuses an unsafe tar by naming the member, writes nothing
anywhere, and a damaged tar is named as such. No database: the refusals come before any
bundle check, so the tars here hold a few stand-in members around the unsafe one."""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import tarfile
from datetime import UTC, datetime
from pathlib import Path

import pytest

from evaluation_hub.archive.errors import ArchiveError
from evaluation_hub.archive.tarball import is_tar_path, read_tar, tar_top, write_tar
from evaluation_hub.archive.verify import verify_bundle
from evaluation_hub.cli import main

Entry = tarfile.TarInfo | tuple[tarfile.TarInfo, bytes]  # a header, and a file's data


def make_tar(path: Path, members: list[Entry]) -> Path:
    """A tar of exactly these members (gzip if ``path`` ends in .gz), as an attacker writes it."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for item in members:
            info, data = item if isinstance(item, tuple) else (item, b"")
            tar.addfile(info, io.BytesIO(data) if info.isreg() else None)
    raw = buffer.getvalue()
    path.write_bytes(gzip.compress(raw) if path.name.endswith(".gz") else raw)
    return path


def entry(name: str, kind: bytes = tarfile.REGTYPE, data: bytes = b"{}", link: str = "") -> Entry:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = link
    if kind == tarfile.DIRTYPE:
        info.mode = 0o755
        return info
    if kind != tarfile.REGTYPE:
        return info
    info.size = len(data)
    return info, data


GOOD = [
    entry("bundle", tarfile.DIRTYPE),
    entry("bundle/manifest.json"),
    entry("bundle/audit", tarfile.DIRTYPE),
]

UNSAFE = [
    (
        "absolute",
        [*GOOD, entry("/tmp/evaluation-hub-evil")],
        "unsafe tar: member '/tmp/evaluation-hub-evil' has an absolute path",
    ),
    (
        "dotdot",
        [*GOOD, entry("bundle/../../evil.json")],
        "unsafe tar: member 'bundle/../../evil.json' has a '..' component",
    ),
    (
        "symlink",
        [*GOOD, entry("bundle/scores.json", tarfile.SYMTYPE, link="/etc/passwd")],
        "unsafe tar: member 'bundle/scores.json' is a symbolic link (to '/etc/passwd')",
    ),
    (
        "hardlink",
        [*GOOD, entry("bundle/scores.json", tarfile.LNKTYPE, link="bundle/manifest.json")],
        "unsafe tar: member 'bundle/scores.json' is a hard link (to 'bundle/manifest.json')",
    ),
    (
        "character device",
        [*GOOD, entry("bundle/audit/null", tarfile.CHRTYPE)],
        "unsafe tar: member 'bundle/audit/null' is a character device",
    ),
    (
        "block device",
        [*GOOD, entry("bundle/sda", tarfile.BLKTYPE)],
        "unsafe tar: member 'bundle/sda' is a block device",
    ),
    (
        "fifo",
        [*GOOD, entry("bundle/pipe", tarfile.FIFOTYPE)],
        "unsafe tar: member 'bundle/pipe' is a FIFO",
    ),
    (
        "duplicate",
        [*GOOD, entry("bundle/scores.json"), entry("bundle/manifest.json", data=b"[]")],
        "unsafe tar: member 'bundle/manifest.json' appears more than once",
    ),
    (
        "duplicate directory",
        [*GOOD, entry("bundle/audit", tarfile.DIRTYPE)],
        "unsafe tar: member 'bundle/audit' appears more than once",
    ),
    (
        "outside the top directory",
        [*GOOD, entry("other/manifest.json")],
        "unsafe tar: member 'other/manifest.json' is outside the bundle's top directory 'bundle'",
    ),
    (
        "a second top directory",
        [*GOOD, entry("bundle2", tarfile.DIRTYPE)],
        "unsafe tar: member 'bundle2' is outside the bundle's top directory 'bundle'",
    ),
    (
        "no top directory",
        [entry("manifest.json"), entry("scores.json")],
        "unsafe tar: member 'manifest.json' is a file where the bundle's top directory should be",
    ),
]


@pytest.mark.parametrize("suffix", [".tar", ".tar.gz"])
@pytest.mark.parametrize(
    ("members", "message"), [case[1:] for case in UNSAFE], ids=[case[0] for case in UNSAFE]
)
def test_unsafe_tar_is_refused_and_nothing_is_written(
    members: list[Entry],
    message: str,
    suffix: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    bad = make_tar(tmp_path / f"bad{suffix}", members)
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    assert verify_bundle(bad).problem == message
    assert main(["archive", "verify", str(bad)]) == 1
    assert capsys.readouterr().out == message + "\n"
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == before
    assert not Path("/tmp/evaluation-hub-evil").exists()
    assert not (tmp_path.parent / "evil.json").exists()


def test_damaged_tar_is_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    whole = make_tar(
        tmp_path / "whole.tar.gz", [*GOOD, entry("bundle/big", data=os.urandom(1 << 16))]
    )
    cut = tmp_path / "cut.tar.gz"
    cut.write_bytes(whole.read_bytes()[: len(whole.read_bytes()) // 2])
    assert main(["archive", "verify", str(cut)]) == 1
    assert capsys.readouterr().out.startswith(f"damaged tar: {cut} cannot be read (")
    empty = tmp_path / "empty.tar"
    empty.write_bytes(b"\0" * 10240)  # two end-of-archive blocks and padding: a valid empty tar
    assert verify_bundle(empty).problem == f"damaged tar: {empty} holds no members"


def test_tar_names() -> None:
    assert [is_tar_path(Path(n)) for n in ("a.tar", "a.tar.gz", "a.tgz", "a.zip", "a")] == [
        True,
        True,
        True,
        False,
        False,
    ]
    assert [tar_top(Path(n)) for n in ("/srv/s-4.tar", "s-4.tar.gz", "s-4.tgz")] == ["s-4"] * 3


def test_read_tar_keeps_only_what_is_parsed(tmp_path: Path) -> None:
    tar = make_tar(
        tmp_path / "b.tar",
        [*GOOD, entry("bundle/audit/events.json", data=b"[1]"), entry("bundle/big", data=b"x" * 5)],
    )
    read = read_tar(tar, frozenset({"manifest.json", "audit/events.json"}))
    assert read.top == "bundle"
    assert read.names() == {"manifest.json", "audit/events.json", "big"}
    assert read.read("audit/events.json") == b"[1]"
    assert read.read("missing.json") is None
    assert read.sha256("big") == hashlib.sha256(b"xxxxx").hexdigest()
    assert read.sha256("audit") is None  # a directory is not a file
    with pytest.raises(KeyError):
        read.read("big")


def test_write_tar_refuses_a_link_and_leaves_nothing(tmp_path: Path) -> None:
    bundle = tmp_path / "bundle"
    bundle.mkdir()
    (bundle / "manifest.json").write_text("{}")
    (bundle / "link").symlink_to("manifest.json")
    out = tmp_path / "out" / "b.tar.gz"
    out.parent.mkdir()
    with pytest.raises(ArchiveError) as refused:
        write_tar(bundle, out, mtime=datetime(2026, 12, 2, tzinfo=UTC))
    assert str(refused.value) == f"{bundle / 'link'} is not a regular file or a directory"
    assert list(out.parent.iterdir()) == []
