"""The API docs work in a real browser under the Content-Security-Policy (no inline script is refused)."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect, sync_playwright

from tests.browser.test_front_desk import CHROMIUM, CHROMIUM_ARGS


@pytest.mark.django_db(transaction=True)
def test_swagger_ui_renders_the_schema_with_no_policy_violation(live_server, monkeypatch) -> None:
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        page = browser.new_page()
        problems: list[str] = []
        page.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)
        try:
            page.goto(f"{live_server.url}/api/docs/")
            expect(page.locator(".swagger-ui .info .title")).to_contain_text("Clinic backend API", timeout=20_000)
            expect(page.locator(".opblock-tag-section").first).to_be_visible()
        finally:
            browser.close()
    assert not [text for text in problems if "Content Security Policy" in text], problems
