"""A bid package uploaded from the console: host only and before the start, refused before its
body is read; unpacked safely, checked in full and attached like a package on the hub's disk,
the upload's name, size and SHA-256 on the audit chain; every refusal leaves nothing behind."""

from __future__ import annotations

import hashlib
import io
import shutil
import zipfile
from dataclasses import replace
from pathlib import Path
from typing import Any

from sqlalchemy import select

from evaluation_hub.api.keys import SERVICES
from evaluation_hub.audit.models import AuditEventRow
from evaluation_hub.db.engine import Database
from evaluation_hub.evaluation.models import EvaluationPackageRow
from evaluation_hub.evaluation.packages import content_digest
from tests.evaluation.helpers import DEMO_PACKAGE, Client, act, new_session, start
from tests.hub.helpers import login, problem


def _zipped(root: Path = DEMO_PACKAGE, extra: dict[str, bytes] | None = None) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as z:
        for path in sorted(root.rglob("*")):
            if path.is_file():
                z.write(path, "招标项目/" + path.relative_to(root).as_posix())
        for name, data in (extra or {}).items():
            z.writestr(name, data)
    return buffer.getvalue()


async def _upload(
    client: Client, headers: dict[str, str], sid: int, data: bytes, name: str = "标书包.zip"
) -> Any:
    return await client.post(
        f"/api/sessions/{sid}/evaluation/package/upload",
        params={"filename": name},
        data=data,
        headers={**headers, "Content-Type": "application/zip"},
    )


def _stored(client: Client) -> list[str]:
    folder = client.app[SERVICES].config.state_dir / "packages"  # type: ignore[index]
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


async def _attached_events(database: Database) -> list[dict[str, Any]]:
    async with database.read() as s:
        rows = await s.execute(
            select(AuditEventRow.payload).where(AuditEventRow.kind == "evaluation.package_attached")
        )
        return list(rows.scalars())


async def test_the_host_uploads_a_zip_and_it_is_attached(
    client: Client, seeded: dict[str, Any], database: Database
) -> None:
    host = await login(client, "km_operator")
    sid = await new_session(client, host, seeded)
    data = _zipped()

    # Another role is refused before a byte is read: even a body that is no archive at all.
    supervisor = await login(client, "km_supervisor")
    resp = await _upload(client, supervisor, sid, b"not an archive")
    assert (await problem(resp, 403))["detail"] == (
        f"只有主场「云南省公共资源交易中心（昆明）」的业务人员可以操作评标会 #{sid} 的评审，"
        f"当前用户 km_supervisor（监督人员）无此权限"
    )
    assert _stored(client) == []

    resp = await _upload(client, host, sid, data)
    assert resp.status == 201, await resp.text()
    body = await resp.json()
    assert body["package"]["experts"] == ["E01", "E02", "E03", "E04", "E05"]
    async with database.read() as s:
        [row] = (await s.execute(select(EvaluationPackageRow))).scalars()
    stored = Path(row.source_path)
    # The stored folder is the package's (the zip's one top folder), with the same content.
    assert stored.name == "招标项目"
    assert row.content_digest == content_digest(DEMO_PACKAGE)
    [event] = await _attached_events(database)
    assert event["upload"] == {
        "file_name": "标书包.zip",
        "size": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
    }
    assert event["content_digest"] == row.content_digest
    # The received file is gone; only the unpacked package stays.
    [kept] = _stored(client)
    assert kept.startswith(f"session-{sid}-{hashlib.sha256(data).hexdigest()[:16]}-")

    resp = await _upload(client, host, sid, data)
    assert (await problem(resp, 409))["detail"] == f"评标会 #{sid} 已导入标书包，不能重复导入"
    assert _stored(client) == [kept]


async def test_refusals_leave_nothing_behind(
    client: Client, seeded: dict[str, Any], database: Database, tmp_path: Path
) -> None:
    host = await login(client, "km_operator")
    sid = await new_session(client, host, seeded)

    resp = await _upload(client, host, sid, _zipped(extra={"../evil.md": b"x"}))
    body = await problem(resp, 422)
    assert body["detail"] == "标书包压缩文件中的「../evil.md」含有「..」，已拒绝整个标书包"
    assert body["type"].endswith("/package-unsafe")

    resp = await _upload(client, host, sid, b"")
    assert (await problem(resp, 422))["detail"] == "上传的标书包是空文件"

    # A package with problems: the full report, as for a package on the hub's disk.
    broken = tmp_path / "pkg"
    shutil.copytree(DEMO_PACKAGE, broken)
    (broken / "prices.yaml").unlink()
    body = await problem(await _upload(client, host, sid, _zipped(broken)), 422)
    assert body["detail"] == "标书包有 1 个问题，请全部改正后重新导入"
    assert body["problems"] == [{"file": "prices.yaml", "field": "-", "message": "文件缺失"}]

    # Over the configured size: refused by its declared length, or as it streams past.
    services = client.app[SERVICES]  # type: ignore[index]
    services.config = replace(services.config, max_package_upload_bytes=4096)
    body = await problem(await _upload(client, host, sid, _zipped()), 413)
    assert body["detail"] == "上传的标书包超过 0 MiB（4096 字节）上限"

    async def chunked() -> Any:
        for _ in range(3):
            yield bytes(2048)

    resp = await client.post(
        f"/api/sessions/{sid}/evaluation/package/upload",
        data=chunked(),
        headers={**host, "Content-Type": "application/zip"},
    )
    assert (await problem(resp, 413))["detail"] == "上传的标书包超过 0 MiB（4096 字节）上限"

    assert _stored(client) == []
    assert await _attached_events(database) == []
    resp = await client.get(f"/api/sessions/{sid}/evaluation", headers=host)
    assert (await problem(resp, 409))["detail"] == f"评标会 #{sid} 尚未导入标书包"

    # Once the evaluation started, no package is taken (and the body is not read).
    other = await new_session(client, host, seeded)
    await act(client, host, other, "confirm_seats", "open_check_in")
    await start(client, host, other)
    resp = await _upload(client, host, other, b"junk")
    assert (await problem(resp, 409))["detail"] == (
        "评标会当前状态为「评审中」，只能在开始评审前导入标书包"
    )
