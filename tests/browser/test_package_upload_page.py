"""The host operator uploads the bid package from the console: a package with problems shows
every problem by file and place and attaches nothing; the corrected one is attached."""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import expect

from tests.browser.test_console_page import _sign_in
from tests.evaluation.helpers import DEMO_PACKAGE, Client, new_session
from tests.hub.helpers import login


def _zip(path: Path, *, without: str = "") -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for file in sorted(DEMO_PACKAGE.rglob("*")):
            name = file.relative_to(DEMO_PACKAGE).as_posix()
            if file.is_file() and name != without:
                z.write(file, name)
    return path


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
async def test_the_package_is_uploaded_from_the_console(
    browser: Any, client: Client, seeded: dict[str, Any], tmp_path: Path
) -> None:
    sid = await new_session(client, await login(client, "km_operator"), seeded)
    page = await browser.new_page()
    await _sign_in(page, str(client.make_url(f"/console?session={sid}")), "km_operator")
    message = page.locator("#message")
    await expect(page.locator("#no-package")).to_have_text("尚未导入标书包。")

    await page.set_input_files(
        "#package-file", _zip(tmp_path / "缺价格.zip", without="prices.yaml")
    )
    await page.click("#upload-form button[type=submit]")
    await expect(message).to_have_text("标书包有 1 个问题，请全部改正后重新导入")
    await expect(page.locator("#package-problems tbody tr")).to_have_text(["prices.yaml-文件缺失"])
    await expect(page.locator("#no-package")).to_be_visible()

    await page.set_input_files("#package-file", _zip(tmp_path / "标书包.zip"))
    await page.click("#upload-form button[type=submit]")
    await expect(message).to_have_text("已导入标书包。")
    await expect(page.locator("#package-problems")).to_be_hidden()
    await expect(page.locator("#attach-form")).to_be_hidden()
    await expect(page.locator("#report-facts dd").first).to_have_text(
        "普洱市思茅区南屏至倚象公路提升改造工程（YNGGZY-PE-2025-JS-0417）"
    )
    await page.close()
