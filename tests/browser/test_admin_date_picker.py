"""The admin's date picker, in a real browser, writes and reads day-first dates.

Django's calendar JavaScript formats the picked day with the first of the
active locale's DATE_INPUT_FORMATS and parses the field's value with it
again when it opens; both must be the clinic's DD/MM/YYYY, and what it
writes must save as the day that was picked.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from playwright.sync_api import expect, sync_playwright

from tests.browser.test_front_desk import CHROMIUM, CHROMIUM_ARGS
from tests.factories import ProductFactory, UserFactory
from treatments.models import ProductLot


@pytest.mark.django_db(transaction=True)
def test_a_lot_is_registered_with_dates_picked_from_the_calendar(live_server, monkeypatch) -> None:
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    assert Path(CHROMIUM).exists(), f"Chromium not found at {CHROMIUM}: install Debian's chromium package"
    product = ProductFactory(name="Hyaluronic cocktail")
    UserFactory(username="boss", password="clinic-admin-password-1", is_superuser=True)
    today = date.today()  # noqa: DTZ011 - the browser's calendar runs on this machine's local date

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        page = browser.new_page()
        page.set_default_timeout(20_000)
        try:
            page.goto(f"{live_server.url}/admin/login/?next=/admin/treatments/productlot/add/")
            page.fill("#id_username", "boss")
            page.fill("#id_password", "clinic-admin-password-1")
            page.click("input[type=submit]")

            page.select_option("#id_product", str(product.pk))
            page.fill("#id_lot_number", "HA-2291")

            # Received: the 15th of this month, picked from the calendar (weeks start on Monday).
            page.click("#calendarlink1")
            expect(page.locator("#calendarin1 th").first).to_have_text("M")
            page.locator("#calendarin1 td a", has_text="15").first.click()
            expect(page.locator("#id_received_on")).to_have_value(f"15/{today:%m/%Y}")

            # Expires: typed day first; the calendar opens on that month.
            page.fill("#id_expires_on", "31/12/2027")
            page.click("#calendarlink0")
            expect(page.locator("#calendarin0 caption")).to_have_text("December 2027")
            page.locator("#calendarin0 td a", has_text="30").first.click()
            expect(page.locator("#id_expires_on")).to_have_value("30/12/2027")

            page.click("input[name=_save]")
            expect(page.locator(".messagelist .success")).to_be_visible()
        finally:
            browser.close()

    lot = ProductLot.objects.get(lot_number="HA-2291")
    assert lot.received_on == today.replace(day=15)
    assert lot.expires_on == date(2027, 12, 30)
