"""A person at the front desk, in a real browser: log in, open the worklist,
book the next session inside its window, and see the row go.

Headless Chromium from Debian's `chromium` package, driven by Playwright
(no browser download); `.ci/run` installs it. Set CHROMIUM_PATH to use
another binary.
"""

from __future__ import annotations

import os
import re
from datetime import timedelta
from pathlib import Path

import pytest
from django.contrib.auth.models import Group
from django.utils import timezone
from playwright.sync_api import expect, sync_playwright

from clinic.roles import FRONT_DESK
from tests.factories import (
    CourseFactory,
    LocationFactory,
    PatientFactory,
    PractitionerFactory,
    RoomFactory,
    SessionFactory,
    UserFactory,
)
from treatments.models import Session, SessionStatus

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
# Without these, Chromium on this closed network keeps trying to reach Google's hosts.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.mark.django_db(transaction=True)
def test_front_desk_books_the_next_session_from_the_worklist(live_server, monkeypatch, tmp_path: Path) -> None:
    # Playwright's sync API runs an event loop in this thread; the ORM calls
    # below happen before and after it, never during a request.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    assert Path(CHROMIUM).exists(), f"Chromium not found at {CHROMIUM}: install Debian's chromium package"

    location = LocationFactory(name="Marylebone")
    room = RoomFactory(location=location, name="Room 1")
    practitioner = PractitionerFactory(locations=[location], display_name="Dr Evans")
    patient = PatientFactory(first_name="Amelia", last_name="Hart")
    course = CourseFactory(patient=patient, location=location, status="active")
    twenty_days_ago = timezone.now() - timedelta(days=20)
    SessionFactory(
        course=course,
        practitioner=practitioner,
        room=room,
        starts_at=twenty_days_ago,
        status=SessionStatus.COMPLETED,
        completed_at=twenty_days_ago + timedelta(minutes=45),
    )
    desk = UserFactory(username="reception", password="front-desk-password-1")
    desk.groups.add(Group.objects.get(name=FRONT_DESK))

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        page = browser.new_page()
        page.set_default_timeout(20_000)
        try:
            page.goto(f"{live_server.url}/admin/login/?next=/admin/")
            page.fill("#id_username", "reception")
            page.fill("#id_password", "front-desk-password-1")
            page.click("input[type=submit]")

            page.click("text=Follow-up worklist")
            row = page.locator("tr.worklist-row", has_text="Amelia Hart")
            expect(row).to_be_visible()
            expect(row).to_contain_text("window open until")

            row.locator("a.book-link").click()
            expect(page.locator("#id_starts_at_0")).not_to_have_value("")
            page.click("input[name=_save]")
            expect(page.locator(".messagelist .success")).to_be_visible()
            expect(page).to_have_url(re.compile(r"/frontdesk/worklist/"))  # back where the booking began

            page.click("text=Home")
            page.click("text=Follow-up worklist")
            expect(page.locator("#worklist-empty")).to_be_visible()
            expect(page.locator("tr.worklist-row", has_text="Amelia Hart")).to_have_count(0)
            page.screenshot(path=str(tmp_path / "worklist-after-booking.png"))
        finally:
            browser.close()

    booked = Session.objects.get(course=course, status=SessionStatus.BOOKED)
    assert booked.practitioner == practitioner
    window_opens = twenty_days_ago + timedelta(minutes=45) + timedelta(days=14)
    assert booked.starts_at >= window_opens - timedelta(days=1)
    assert booked.starts_at > timezone.now()
