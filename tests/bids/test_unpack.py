"""Unpacking an uploaded bid package: zip and tar (plain and gzip) of the demo package unpack to
a folder the package reader accepts; every unsafe member refuses the whole upload with its
message, and nothing is left behind."""

from __future__ import annotations

import io
import stat
import tarfile
import zipfile
from pathlib import Path

import pytest

from evaluation_hub.bids.package_io import read_package
from evaluation_hub.bids.unpack import UnpackLimits, UnsafePackage, unpack_package
from tests.evaluation.helpers import DEMO_PACKAGE


def _files(root: Path = DEMO_PACKAGE) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def _zip(path: Path, files: dict[str, bytes], prefix: str = "") -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in files.items():
            z.writestr(prefix + name, data)
    return path


def _tar(path: Path, files: dict[str, bytes], mode: str = "w:gz", prefix: str = "") -> Path:
    with tarfile.open(path, mode) as t:
        for name, data in files.items():
            info = tarfile.TarInfo(prefix + name)
            info.size = len(data)
            t.addfile(info, io.BytesIO(data))
    return path


@pytest.mark.parametrize(
    ("make", "prefix"),
    [
        (lambda p, f, pre: _zip(p / "pkg.zip", f, pre), ""),
        (lambda p, f, pre: _zip(p / "pkg.zip", f, pre), "标书包/"),
        (lambda p, f, pre: _tar(p / "pkg.tar.gz", f, "w:gz", pre), "pkg/"),
        (lambda p, f, pre: _tar(p / "pkg.tar", f, "w", pre), ""),
    ],
    ids=["zip-root", "zip-folder", "tgz-folder", "tar-root"],
)
def test_the_demo_package_unpacks_and_reads(tmp_path: Path, make: object, prefix: str) -> None:
    uploaded = make(tmp_path, _files(), prefix)  # type: ignore[operator]
    root = unpack_package(uploaded, tmp_path / "out")
    assert _files(root) == _files()
    assert read_package(root).bidder_ids == read_package(DEMO_PACKAGE).bidder_ids
    assert stat.S_IMODE((tmp_path / "out").stat().st_mode) == 0o700
    assert {stat.S_IMODE(p.stat().st_mode) for p in root.rglob("*") if p.is_file()} == {0o600}


def _refused(uploaded: Path, tmp_path: Path, limits: UnpackLimits | None = None) -> str:
    out = tmp_path / "out"
    with pytest.raises(UnsafePackage) as caught:
        unpack_package(uploaded, out, limits or UnpackLimits())
    assert not out.exists()
    return str(caught.value)


def _refusal(name: str, why: str) -> str:
    return f"标书包压缩文件中的「{name}」{why}，已拒绝整个标书包"


@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("/etc/cron.d/x", "是绝对路径"),
        ("../outside.md", "含有「..」"),
        ("chapters/../../outside.md", "含有「..」"),
        ("chapters\\b01\\ch1.md", "名称含有反斜杠"),
        ("C:/x.md", "是绝对路径"),
        ("chapters/b01/\x1bch1.md", "名称含有控制字符"),
    ],
)
def test_unsafe_names_refuse_the_zip_and_the_tar(tmp_path: Path, name: str, why: str) -> None:
    files = {**_files(), name: b"x"}
    assert _refused(_zip(tmp_path / "a.zip", files), tmp_path) == _refusal(name, why)
    assert _refused(_tar(tmp_path / "a.tgz", files), tmp_path) == _refusal(name, why)


def test_links_devices_and_duplicates_are_refused(tmp_path: Path) -> None:
    for kind, why in ((tarfile.SYMTYPE, "是链接"), (tarfile.LNKTYPE, "是链接"),
                      (tarfile.CHRTYPE, "不是普通文件或目录"), (tarfile.FIFOTYPE, "不是普通文件或目录")):  # fmt: skip
        path = tmp_path / f"{kind!r}.tar"
        with tarfile.open(path, "w") as t:
            info = tarfile.TarInfo("package.yaml")
            info.type = kind
            info.linkname = "/etc/passwd"
            t.addfile(info)
        assert _refused(path, tmp_path) == _refusal("package.yaml", why)

    link = tmp_path / "link.zip"
    with zipfile.ZipFile(link, "w") as z:
        info = zipfile.ZipInfo("package.yaml")
        info.external_attr = (stat.S_IFLNK | 0o777) << 16
        z.writestr(info, "/etc/passwd")
    assert _refused(link, tmp_path) == _refusal("package.yaml", "是符号链接")

    twice = tmp_path / "twice.zip"
    with zipfile.ZipFile(twice, "w") as z, pytest.warns(UserWarning, match="Duplicate name"):
        z.writestr("package.yaml", "a")
        z.writestr("package.yaml", "b")
    assert _refused(twice, tmp_path) == _refusal("package.yaml", "重复出现")
    assert _refused(
        _tar(tmp_path / "twice.tar", {"a/x.md": b"1", "a//x.md": b"2"}, "w"), tmp_path
    ) == _refusal("a//x.md", "重复出现")


def test_bombs_and_limits(tmp_path: Path) -> None:
    # A zip bomb: 64 MiB of zeros in a few kilobytes; counted as it is written, not as declared.
    bomb = _zip(
        tmp_path / "bomb.zip", {"package.yaml": b"", "chapters/b01/ch1.md": bytes(64 << 20)}
    )
    assert bomb.stat().st_size < 200_000
    assert _refused(bomb, tmp_path) == _refusal(
        "chapters/b01/ch1.md", f"超过单个文件 {8 * 1024 * 1024} 字节的上限"
    )
    small = UnpackLimits(max_total_bytes=20_000)
    assert _refused(_zip(tmp_path / "big.zip", _files()), tmp_path, small) == (
        "标书包解压后超过 20000 字节的上限，已拒绝整个标书包"
    )
    few = UnpackLimits(max_members=5)
    assert _refused(_zip(tmp_path / "many.zip", _files()), tmp_path, few) == (
        "标书包压缩文件的成员超过 5 个，已拒绝整个标书包"
    )
    # A pax header declaring far more than any name needs: refused before tarfile reads it.
    pax = tmp_path / "pax.tar"
    with tarfile.open(pax, "w", format=tarfile.PAX_FORMAT) as t:
        info = tarfile.TarInfo("package.yaml")
        info.pax_headers = {"comment": "x" * 100_000}
        t.addfile(info, io.BytesIO(b""))
    assert _refused(pax, tmp_path).startswith("标书包压缩文件含有 1000")


def test_what_is_not_a_package_archive(tmp_path: Path) -> None:
    text = tmp_path / "package.yaml"
    text.write_text("format: 1\n", "utf-8")
    assert _refused(text, tmp_path) == (
        "上传的文件不是 zip 或 tar（.tar、.tar.gz、.tgz）格式的标书包"
    )
    cut = tmp_path / "cut.zip"
    cut.write_bytes(_zip(tmp_path / "whole.zip", _files()).read_bytes()[:3000])
    assert _refused(cut, tmp_path).startswith("上传的 zip 文件已损坏，无法读取")
    no_manifest = _zip(tmp_path / "none.zip", {"a/x.md": b"1", "b/y.md": b"2"})
    assert _refused(no_manifest, tmp_path) == (
        "标书包压缩文件中找不到 package.yaml：它应在压缩文件的根目录，或唯一的顶层文件夹中"
    )
