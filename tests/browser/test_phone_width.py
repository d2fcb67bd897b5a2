"""The front desk on a phone (390 px wide): the worklist, today's list and the patient card need no sideways
scrolling to reach their actions, and phone numbers are tap-to-call."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from pathlib import Path

import pytest
from django.contrib.auth.models import Group
from django.utils import timezone
from playwright.sync_api import expect, sync_playwright

from clinic.roles import FRONT_DESK
from tests.browser.test_front_desk import CHROMIUM, CHROMIUM_ARGS
from tests.factories import (
    CourseFactory,
    LocationFactory,
    PatientFactory,
    PractitionerFactory,
    RoomFactory,
    SessionFactory,
    UserFactory,
)
from treatments.models import SessionStatus

PHONE = {"width": 390, "height": 844}


@pytest.mark.django_db(transaction=True)
def test_the_worklist_and_today_list_fit_a_phone_with_their_actions_in_reach(live_server, monkeypatch) -> None:
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    assert Path(CHROMIUM).exists()
    location = LocationFactory(name="Marylebone")
    room = RoomFactory(location=location)
    practitioner = PractitionerFactory(locations=[location], display_name="Dr Evans")
    patient = PatientFactory(first_name="Amelia", last_name="Hart", phone="+447700900123")
    course = CourseFactory(patient=patient, location=location, status="active")
    done = timezone.now() - timedelta(days=20)
    SessionFactory(
        course=course,
        practitioner=practitioner,
        room=room,
        starts_at=done,
        ends_at=done + timedelta(minutes=45),
        status=SessionStatus.COMPLETED,
        completed_at=done + timedelta(minutes=45),
    )
    today_course = CourseFactory(patient=PatientFactory(first_name="Bella", phone="+447700900456"), location=location)
    late_today = datetime.combine(location.today(), time(23, 0), tzinfo=location.time_zone)
    SessionFactory(
        course=today_course,
        practitioner=practitioner,
        room=room,
        starts_at=late_today,
        ends_at=late_today + timedelta(minutes=45),
    )
    desk = UserFactory(username="reception", password="front-desk-password-1")
    desk.groups.add(Group.objects.get(name=FRONT_DESK))

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport=PHONE, is_mobile=True, has_touch=True)
        page.set_default_timeout(20_000)
        try:
            page.goto(f"{live_server.url}/admin/login/?next=/frontdesk/worklist/")
            page.fill("#id_username", "reception")
            page.fill("#id_password", "front-desk-password-1")
            page.click("input[type=submit]")

            # The search box sits in the header without stretching it (it was 22rem tall at this width).
            header = page.locator("#header").bounding_box()
            assert header is not None and header["height"] < 250, header
            book = page.locator("tr.worklist-row", has_text="Amelia Hart").locator("a.book-link")
            expect(book).to_be_visible()
            _within_the_screen(page, book)
            expect(page.locator("tr.worklist-row a.phone[href='tel:+447700900123']")).to_be_visible()

            page.goto(f"{live_server.url}/frontdesk/today/?location={location.pk}")
            check_in = page.locator("tr.today-row", has_text="Bella").locator("button.check-in")
            expect(check_in).to_be_visible()
            _within_the_screen(page, check_in)
            expect(page.locator("tr.today-row a.phone[href='tel:+447700900456']")).to_be_visible()

            page.goto(f"{live_server.url}/frontdesk/patients/{patient.pk}/")
            book_next = page.locator("#card-courses a.book-next")
            expect(book_next).to_be_visible()
            _within_the_screen(page, book_next)
            expect(page.locator("#patient-card a.phone[href='tel:+447700900123']")).to_be_visible()
        finally:
            browser.close()


def _within_the_screen(page, locator) -> None:  # type: ignore[no-untyped-def]
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"] + 1, f"the page scrolls sideways: {width} px wide"
    box = locator.bounding_box()
    assert box is not None
    assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"], box
