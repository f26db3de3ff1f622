"""Refusals of the expert pool's imports and of automatic recusal (one root per package)."""

from __future__ import annotations

from collections.abc import Sequence

from evaluation_hub.errors import Conflict, InvalidInput, TooLarge
from evaluation_hub.pool.recusal import Conflict as RecusalConflict
from evaluation_hub.pool.table_file import FileProblem

__all__ = ["PoolFileInvalid", "PoolFileTooLarge", "RecusalRequired"]


class PoolFileInvalid(InvalidInput):
    """A file with at least one bad row: nothing was imported. ``problems`` names every one."""

    def __init__(self, what: str, problems: Sequence[FileProblem]) -> None:
        self.problems = tuple(problems)
        super().__init__(
            "pool-file-invalid",
            f"{what}文件有 {len(problems)} 处问题，未导入任何记录；请全部改正后重新导入",
            problems=[{"line": p.line, "column": p.column, "message": p.message} for p in problems],
        )


class PoolFileTooLarge(TooLarge):
    def __init__(self, limit: int) -> None:
        super().__init__(
            "pool-file-too-large", f"文件超过 {limit // (1024 * 1024)} MB，请拆分后分批导入"
        )


class RecusalRequired(Conflict):
    """A member may not sit: each conflict names the bidder or the blacklist entry."""

    def __init__(self, code: str, conflicts: Sequence[RecusalConflict]) -> None:
        self.conflicts = tuple(conflicts)
        super().__init__(
            "recusal-required",
            "；".join(c.message for c in conflicts),
            expert=code,
            reasons=[
                {"kind": c.kind, "bidder_id": c.bidder_id, "message": c.message} for c in conflicts
            ],
        )
