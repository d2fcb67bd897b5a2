"""A patient on a phone (390 px) opens the link from their text and tells the clinic how their skin is.

Real Chromium against the live server: the page fits the phone with no
sideways scrolling, the check-in form is filled by tapping (symptoms,
severity, the day it began, a note and a photo from the phone), and the
answer appears on the same page. A screenshot goes to docs/ for the README.
"""

from __future__ import annotations

import io
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone
from PIL import Image
from playwright.sync_api import expect, sync_playwright

from aftercare.models import ReportSource, SideEffectReport
from aftercare.page_links import page_url
from tests.browser.test_front_desk import CHROMIUM, CHROMIUM_ARGS
from tests.browser.test_phone_width import PHONE
from tests.factories import (
    CourseFactory,
    LocationFactory,
    PatientFactory,
    PractitionerFactory,
    RoomFactory,
    SessionFactory,
)
from treatments.models import SessionStatus

DOCS = Path(__file__).resolve().parents[2] / "docs"


@pytest.mark.django_db(transaction=True)
def test_a_patient_fills_the_check_in_form_on_a_phone(live_server, settings, monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    settings.SITE_URL = live_server.url
    location = LocationFactory(name="Marylebone Skin Clinic", phone="+442079460000", address="12 Harley Street")
    practitioner = PractitionerFactory(locations=[location], display_name="Dr Evans")
    patient = PatientFactory(first_name="Amelia", last_name="Hart", time_zone="Europe/London")
    course = CourseFactory(patient=patient, location=location, status="active")
    done = timezone.now() - timedelta(days=1, hours=2)
    session = SessionFactory(
        course=course,
        practitioner=practitioner,
        room=RoomFactory(location=location),
        starts_at=done - timedelta(minutes=45),
        ends_at=done,
        status=SessionStatus.COMPLETED,
        completed_at=done,
    )
    photo = tmp_path / "skin.jpg"
    Image.new("RGB", (1200, 900), (210, 140, 130)).save(photo, format="JPEG")
    link = page_url(session.pk)
    yesterday = (timezone.localdate(timezone=location.time_zone) - timedelta(days=1)).isoformat()

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport=PHONE, is_mobile=True, has_touch=True)
        page.set_default_timeout(20_000)
        try:
            page.goto(link)
            expect(page.get_by_role("heading", name="Your aftercare")).to_be_visible()
            expect(page.locator("li.current summary")).to_contain_text("First 24–48 hours")
            assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"] + 1
            page.screenshot(path=str(DOCS / "aftercare-timeline.png"), full_page=False)

            page.get_by_role("link", name="How is your skin? Tell us").tap()
            form = page.locator("#check-in form")
            form.get_by_label("Redness").check()
            form.get_by_label("Swelling").check()
            form.get_by_label("Mild: I notice it, it does not bother me much").check()
            form.get_by_label("When did it start?").fill(yesterday)
            form.get_by_label("Anything else you want to tell us (optional)").fill("A little puffy this morning.")
            form.get_by_label("A photo of the area (optional)").set_input_files(str(photo))
            submit = form.get_by_role("button", name="Send to the clinic")
            box = submit.bounding_box()
            assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"]
            page.screenshot(path=str(DOCS / "aftercare-check-in.png"), full_page=False)
            submit.tap()

            outcome = page.locator("#outcome")
            expect(outcome).to_contain_text("Thank you: we have your report")
            expect(outcome).to_contain_text("What you describe is expected after a session")
            expect(outcome).to_contain_text("Redness: should have settled by")
            assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"] + 1
        finally:
            browser.close()

    # Read after the browser closed (an ORM call inside Playwright's loop opens a stray connection).
    report = SideEffectReport.objects.get()
    assert (report.session_id, report.source, report.is_red_flag) == (session.pk, ReportSource.PATIENT, False)
    assert sorted(report.symptoms) == ["redness", "swelling"] and report.notes == "A little puffy this morning."
    assert report.photo.name.endswith(".jpg")
    with report.photo.open("rb") as stored:
        assert Image.open(io.BytesIO(stored.read())).getexif() == {}
    report.photo.storage.delete(report.photo.name)
