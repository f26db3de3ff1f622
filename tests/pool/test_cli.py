"""`evaluation-hub expert import|list` and `blacklist import|list` as an operator runs them:
the console script against a fresh SQLite database; every bad row printed by line and column,
nothing imported; --dry-run changes nothing; the import is audited as cli:<OS user> and
`audit verify`'s chain check holds."""

from __future__ import annotations

from pathlib import Path

from evaluation_hub.audit.store import load_chain
from evaluation_hub.db.engine import Database
from tests.admin.test_cli import env, hub  # noqa: F401 - the fixture and the runner
from tests.pool.files import GOOD, csv_bytes

EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "examples"


async def test_the_documented_examples_import_and_list(tmp_path: Path, env: dict[str, str]) -> None:  # noqa: F811
    url = f"sqlite+aiosqlite:///{tmp_path / 'hub.db'}"
    assert hub(tmp_path, env, "db", "upgrade", "--database-url", url).returncode == 0
    example = str(EXAMPLES / "expert-pool.csv")
    dry = hub(tmp_path, env, "expert", "import", example, "--dry-run", "--database-url", url)
    assert (dry.returncode, dry.stderr) == (0, "")
    assert dry.stdout.startswith("would import 3 experts from CSV (UTF-8) (sha256 ")
    assert dry.stdout.endswith("): 3 added, 0 updated, 0 unchanged\n")
    done = hub(tmp_path, env, "expert", "import", example, "--database-url", url)
    assert done.stdout.endswith("): 3 added, 0 updated, 0 unchanged\n"), done.stderr
    listed = hub(tmp_path, env, "expert", "list", "--database-url", url)
    assert listed.stdout.splitlines() == [
        "E101\t赵建国\t昆明理工大学\t云南建工集团有限公司:2024\t530100\t土木工程、工程造价\t13800000001",
        "E102\t钱文华\t云南省建筑设计院\t\t530300\t建筑设计\t0871-12345678",
        "E103\t孙丽萍\t大理大学\t昆明路桥(集团)有限公司:2021; 大理州水利局:2015\t532900\t水利水电\t13800000003",
    ]
    blacklist = str(EXAMPLES / "credit-blacklist.csv")
    done = hub(tmp_path, env, "blacklist", "import", blacklist, "--database-url", url)
    assert done.stdout.endswith("): 2 added, 0 updated, 0 unchanged\n"), done.stderr
    listed = hub(tmp_path, env, "blacklist", "list", "--database-url", url)
    assert listed.stdout.splitlines() == [
        "E109\t\t\t评审中违反评标纪律(通报第12号)\t2027-06-30",
        "\t周海燕\t红河学院\t提供虚假承诺(通报第15号)\t2026-12-31",
    ]
    bad = tmp_path / "bad.csv"
    bad.write_bytes(csv_bytes([GOOD[0], ("E101", "", "x", "", "530100", "土木", "13800000009")]))
    refused = hub(tmp_path, env, "expert", "import", str(bad), "--database-url", url)
    assert (refused.returncode, refused.stdout) == (2, "")
    assert refused.stderr == (
        "expert: 专家库文件有 2 处问题，未导入任何记录；请全部改正后重新导入\n"
        "  line 3, column 专家编号: 专家编号「E101」与第 2 行重复\n"
        "  line 3, column 姓名: 姓名不能为空\n"
    )
    db = Database(url)
    try:
        async with db.read() as s:
            events = await load_chain(s)
    finally:
        await db.dispose()
    assert [(e.kind, e.actor, e.payload["added"]) for e in events] == [
        ("pool.experts_imported", "cli:clerk", 3),
        ("pool.blacklist_imported", "cli:clerk", 2),
    ]
