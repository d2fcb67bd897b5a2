"""The receptionist's calendar in a real browser: the day of a location by practitioner, a drag that moves a
session, and a drag the rules refuse, which puts the block back and says why.

Headless Chromium from Debian's package, driven by Playwright (see test_front_desk.py). The run leaves a
screenshot of the calendar in docs/ for the README.
"""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta
from pathlib import Path

import pytest
import time_machine
from django.contrib.auth.models import Group
from django.utils import timezone
from playwright.sync_api import expect, sync_playwright

from clinic.roles import FRONT_DESK, PRACTITIONER
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
from treatments import services
from treatments.models import Session, SessionStatus

DOCS = Path(__file__).resolve().parents[2] / "docs"


def _course_due(location, practitioner, room, first_name: str, last_name: str, days_ago: int):  # type: ignore[no-untyped-def]
    """A course whose first session was `days_ago` (20 or so) days ago: its next one may go any day now."""
    course = CourseFactory(
        patient=PatientFactory(first_name=first_name, last_name=last_name), location=location, status="active"
    )
    done = timezone.now() - timedelta(days=days_ago)
    SessionFactory(
        course=course,
        practitioner=practitioner,
        room=room,
        starts_at=done,
        ends_at=done + timedelta(minutes=45),
        status=SessionStatus.COMPLETED,
        completed_at=done + timedelta(minutes=45),
    )
    return course


@pytest.mark.django_db(transaction=True)
def test_a_receptionist_drags_a_session_to_a_new_time_and_a_refused_drag_goes_back(
    live_server, monkeypatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    assert Path(CHROMIUM).exists(), f"Chromium not found at {CHROMIUM}: install Debian's chromium package"
    location = LocationFactory(name="Marylebone")
    room = RoomFactory(location=location, name="Room 1")
    RoomFactory(location=location, name="Room 2")
    evans = PractitionerFactory(locations=[location], display_name="Dr Evans")
    PractitionerFactory(locations=[location], display_name="Dr Patel")
    zone = location.time_zone
    tomorrow = location.today() + timedelta(days=1)

    def book(course, hour: int, booked_room=room):  # type: ignore[no-untyped-def]
        starts = datetime.combine(tomorrow, time(hour), tzinfo=zone)
        return services.session_book(course=course, practitioner=evans, room=booked_room, starts_at=starts, actor=None)

    amelia = book(_course_due(location, evans, room, "Amelia", "Hart", 20), 10)
    book(_course_due(location, evans, room, "Bella", "Stone", 21), 14)
    desk = UserFactory(username="reception", password="front-desk-password-1")
    desk.groups.add(Group.objects.get(name=FRONT_DESK))

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 1100})
        page.set_default_timeout(20_000)
        try:
            page.goto(f"{live_server.url}/admin/login/?next=/admin/")
            page.fill("#id_username", "reception")
            page.fill("#id_password", "front-desk-password-1")
            page.click("input[type=submit]")
            page.click("#front-desk >> text=Calendar")
            page.goto(f"{page.url}?location={location.pk}&date={tomorrow.isoformat()}")

            block = page.locator(".ec-event", has_text="Amelia Hart")
            expect(block).to_be_visible()
            expect(block).to_contain_text("2 of")
            expect(page.locator(".ec-event", has_text="Bella Stone")).to_be_visible()
            expect(page.locator(".ec-resource, .ec-col-head", has_text="Dr Patel").first).to_be_visible()
            DOCS.mkdir(exist_ok=True)
            page.screenshot(path=str(DOCS / "calendar.png"))

            slot = _slot_height(block)
            _drag(page, block, down=slot * 4)  # one hour later: 11:00, free
            expect(page.locator("#calendar-message")).to_contain_text("moved to")
            # (The database is read after the browser closes: an ORM call inside Playwright's loop opens a
            # connection in another context, which outlives the test and blocks dropping the test database.)

            block = page.locator(".ec-event", has_text="Amelia Hart")
            _drag(page, block, down=slot * 12)  # 14:00: Dr Evans is with Bella Stone
            expect(page.locator("#calendar-message")).to_contain_text("Not moved")
            page.screenshot(path=str(tmp_path / "calendar-refused.png"))
        finally:
            browser.close()

    amelia.refresh_from_db()
    assert amelia.starts_at == datetime.combine(tomorrow, time(11), tzinfo=zone)  # the refused drag changed nothing


def _slot_height(block) -> float:  # type: ignore[no-untyped-def]
    """A 45-minute block spans three 15-minute slots."""
    box = block.bounding_box()
    assert box is not None
    return box["height"] / 3


def _drag(page, block, *, down: float) -> None:  # type: ignore[no-untyped-def]
    box = block.bounding_box()
    assert box is not None
    x, y = box["x"] + box["width"] / 2, box["y"] + 8
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x, y + down / 2, steps=8)
    page.mouse.move(x, y + down, steps=8)
    page.mouse.up()


@pytest.mark.django_db(transaction=True)
def test_the_desk_checks_a_patient_in_and_the_practitioner_completes_the_session_from_the_calendar(
    live_server, monkeypatch
) -> None:
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    location = LocationFactory(name="Marylebone")
    room = RoomFactory(location=location, name="Room 1")
    evans = PractitionerFactory(locations=[location], display_name="Dr Evans")
    evans.user.set_password("practitioner-password-1")
    evans.user.save()
    evans.user.groups.add(Group.objects.get(name=PRACTITIONER))
    desk = UserFactory(username="reception", password="front-desk-password-1")
    desk.groups.add(Group.objects.get(name=FRONT_DESK))
    zone = location.time_zone
    # A day in the future (cookies expire by the browser's own clock), the clock running from 10:00.
    day = date(2027, 3, 2)
    with time_machine.travel(datetime.combine(day, time(10), tzinfo=zone), tick=True):
        course = _course_due(location, evans, room, "Amelia", "Hart", 20)
        session = SessionFactory(
            course=course,
            practitioner=evans,
            room=room,
            starts_at=datetime.combine(day, time(9, 45), tzinfo=zone),
            ends_at=datetime.combine(day, time(10, 30), tzinfo=zone),
        )
        calendar_url = f"{live_server.url}/frontdesk/calendar/?location={location.pk}&date={day.isoformat()}"
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
            try:
                page = _signed_in(browser, live_server, "reception", "front-desk-password-1")
                page.click("#front-desk >> text=Today")
                row = page.locator("tr.today-row", has_text="Amelia Hart")
                row.locator("button.check-in").click()
                expect(page.locator(".messagelist")).to_contain_text("Amelia Hart checked in")
                expect(page.locator("tr.today-row.arrived", has_text="Amelia Hart")).to_be_visible()
                page.goto(calendar_url)
                expect(page.locator(".ec-event.arrived", has_text="Amelia Hart")).to_be_visible()
                page.locator(".ec-event", has_text="Amelia Hart").click()
                expect(page.locator("#panel-complete")).to_be_hidden()  # the desk does not complete

                page = _signed_in(browser, live_server, evans.user.username, "practitioner-password-1")
                page.goto(calendar_url)
                page.locator(".ec-event", has_text="Amelia Hart").click()
                expect(page.locator("#session-panel-detail")).to_contain_text("Arrived")
                expect(page.locator("#panel-check-in")).to_be_hidden()  # arrived already
                page.click("#panel-complete")
                page.click("#session-complete-form input[type=submit]")
                expect(page).to_have_url(re.compile(r"/frontdesk/calendar/\?"))  # back where they came from
                expect(page.locator(".ec-event.status-completed", has_text="Amelia Hart")).to_be_visible()
            finally:
                browser.close()
    session.refresh_from_db()
    assert session.arrived_at is not None
    assert session.status == SessionStatus.COMPLETED


def _signed_in(browser, live_server, username: str, password: str):  # type: ignore[no-untyped-def]
    """A page of a fresh browser context, signed in to the admin as `username`."""
    page = browser.new_context(viewport={"width": 1280, "height": 1000}).new_page()
    page.set_default_timeout(20_000)
    page.goto(f"{live_server.url}/admin/login/?next=/admin/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("input[type=submit]")
    expect(page.locator("#front-desk")).to_be_visible()
    return page


@pytest.mark.django_db(transaction=True)
def test_a_receptionist_finds_a_patient_by_phone_and_books_at_the_earliest_start_the_rules_allow(
    live_server, monkeypatch
) -> None:
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    location = LocationFactory(name="Marylebone")
    room = RoomFactory(location=location, name="Room 1")
    evans = PractitionerFactory(locations=[location], display_name="Dr Evans")
    desk = UserFactory(username="reception", password="front-desk-password-1")
    desk.groups.add(Group.objects.get(name=FRONT_DESK))
    # Carla's last session was five days ago: tomorrow is too soon (14 days apart at least).
    course = _course_due(location, evans, room, "Carla", "Reyes", 5)
    patient = course.patient
    patient.phone = "+447700900123"
    patient.save()
    tomorrow = location.today() + timedelta(days=1)

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            page = _signed_in(browser, live_server, "reception", "front-desk-password-1")
            page.goto(f"{live_server.url}/frontdesk/today/?location={location.pk}")
            # The header's search box, with the number as the patient says it.
            page.fill("#patient-search-input", "07700 900123")
            expect(page.locator("#patient-search-results [role=option]")).to_have_count(1)
            expect(page.locator("#patient-search-results")).to_contain_text("Carla Reyes")
            page.keyboard.press("ArrowDown")
            page.keyboard.press("Enter")
            expect(page).to_have_url(re.compile(f"/frontdesk/patients/{patient.pk}/"))
            expect(page.locator("#card-courses")).to_contain_text("Book next")
            expect(page.locator("#card-alerts")).to_be_visible()
            page.screenshot(path=str(DOCS / "patient-card.png"), full_page=True)

            page.goto(f"{live_server.url}/frontdesk/calendar/?location={location.pk}&date={tomorrow.isoformat()}")
            expect(page.locator(".ec-col-head, .ec-resource", has_text="Dr Evans").first).to_be_visible()
            column = page.locator(".ec-col-head, .ec-resource", has_text="Dr Evans").first.bounding_box()
            eleven = page.get_by_text("11:00", exact=True).first.bounding_box()
            assert column is not None and eleven is not None
            page.mouse.click(column["x"] + column["width"] / 2, eleven["y"] + eleven["height"] / 2 + 4)

            expect(page.locator("#booking-dialog")).to_be_visible()
            page.fill("#booking-patient", "Reyes")
            page.locator("#booking-patients button", has_text="Carla Reyes").click()
            expect(page.locator("#booking-verdict")).to_contain_text("days")  # the spacing rule, in words
            expect(page.locator("#booking-earliest")).to_be_visible()
            page.click("#booking-earliest")
            expect(page.locator("#calendar-message")).to_contain_text("Carla Reyes booked for")
        finally:
            browser.close()

    booked = Session.objects.get(course=course, status=SessionStatus.BOOKED)
    last = Session.objects.get(course=course, status=SessionStatus.COMPLETED)
    assert booked.practitioner == evans
    assert booked.starts_at >= last.starts_at + timedelta(days=14) - timedelta(days=1)


@pytest.mark.django_db(transaction=True)
def test_book_next_from_the_patient_card_opens_the_calendar_at_the_first_free_slot_and_books_it(
    live_server, monkeypatch
) -> None:
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    location = LocationFactory(name="Marylebone")
    room = RoomFactory(location=location, name="Room 1")
    evans = PractitionerFactory(locations=[location], display_name="Dr Evans")
    desk = UserFactory(username="reception", password="front-desk-password-1")
    desk.groups.add(Group.objects.get(name=FRONT_DESK))
    course = _course_due(location, evans, room, "Dana", "Okafor", 20)

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            page = _signed_in(browser, live_server, "reception", "front-desk-password-1")
            page.fill("#patient-search-input", "Okafor")
            page.locator("#patient-search-results a", has_text="Dana Okafor").click()
            page.click("#card-courses a.book-next")
            expect(page.locator("#booking-dialog")).to_be_visible()
            expect(page.locator("#booking-patient-chosen")).to_contain_text("Dana Okafor")
            expect(page.locator("#booking-verdict")).to_contain_text("The rules allow this booking")
            page.click("#booking-save")
            expect(page.locator("#calendar-message")).to_contain_text("Dana Okafor booked for")
            expect(page.locator(".ec-event", has_text="Dana Okafor")).to_be_visible()
        finally:
            browser.close()

    booked = Session.objects.get(course=course, status=SessionStatus.BOOKED)
    assert booked.practitioner == evans


@pytest.mark.django_db(transaction=True)
def test_a_new_patient_gets_a_course_started_and_booked_from_the_calendar(live_server, monkeypatch) -> None:
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    location = LocationFactory(name="Marylebone")
    RoomFactory(location=location, name="Room 1")
    PractitionerFactory(locations=[location], display_name="Dr Evans")
    patient = PatientFactory(first_name="Eve", last_name="Marsh")
    desk = UserFactory(username="reception", password="front-desk-password-1")
    desk.groups.add(Group.objects.get(name=FRONT_DESK))
    day = location.today() + timedelta(days=2)

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            page = _signed_in(browser, live_server, "reception", "front-desk-password-1")
            page.goto(f"{live_server.url}/frontdesk/calendar/?location={location.pk}&date={day.isoformat()}")
            column = page.locator(".ec-col-head, .ec-resource", has_text="Dr Evans").first.bounding_box()
            ten = page.get_by_text("10:00", exact=True).first.bounding_box()
            assert column is not None and ten is not None
            page.mouse.click(column["x"] + column["width"] / 2, ten["y"] + ten["height"] / 2 + 4)
            page.fill("#booking-patient", "Marsh")
            page.locator("#booking-patients button", has_text="Eve Marsh").click()
            page.select_option("#booking-course", "new")
            page.click("#booking-start-course")
            expect(page.locator("#booking-verdict")).to_contain_text("The rules allow this booking")
            page.click("#booking-save")
            expect(page.locator("#calendar-message")).to_contain_text("Eve Marsh booked for")
        finally:
            browser.close()

    session = Session.objects.get(course__patient=patient)
    assert session.starts_at.astimezone(location.time_zone).date() == day
