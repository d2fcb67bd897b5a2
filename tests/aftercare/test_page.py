"""The patient's own page for a session: opened by its link alone, and by nothing else.

A valid link shows the session's aftercare as a timeline with today's phase
highlighted, every fact of the plan, the next session and the clinic's
contact. A link that was tampered with, forged, expired, or whose patient
was erased gets a 404 that says nothing; a cancelled session's page names
no one.
"""

from __future__ import annotations

import base64
import re
from datetime import date, timedelta

import pytest
from django.test import Client

from aftercare.page_links import page_token, page_url, session_of_token
from frontdesk.data_rights import patient_erase
from tests.aftercare.conftest import LONDON, book, complete, local
from tests.aftercare.test_schedule import SPEC_FACTS, normalised, run_four_session_course
from tests.factories import UserFactory
from treatments import services

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("outside_world")]


def text_of(html: str) -> str:
    """The page's words, as a reader sees them (tags out, entities of the few characters escaped back)."""
    words = re.sub(r"<[^>]+>", " ", html)
    for entity, character in (("&#x27;", "'"), ("&quot;", '"'), ("&amp;", "&"), ("&lt;", "<"), ("&gt;", ">")):
        words = words.replace(entity, character)
    return normalised(words)


def page_path(session_id, **kwargs) -> str:
    return page_url(session_id, **kwargs).removeprefix("http://127.0.0.1:8000").removeprefix("http://testserver")


@pytest.fixture
def completed(clock, course, practitioner, room):
    return complete(book(course, practitioner, room, local(LONDON, 3, 3, 10)), clock)


def test_a_token_is_short_enough_for_a_text_and_opens_only_its_session(completed) -> None:
    token = page_token(completed.pk)

    assert len(token) == 43 and re.fullmatch(r"[A-Za-z0-9_-]+", token)
    assert session_of_token(token) == completed.pk
    assert str(completed.pk) not in token and str(completed.course.patient_id) not in page_url(completed.pk)


def test_the_page_shows_the_timeline_with_todays_phase_highlighted(client: Client, clock, completed) -> None:
    clock.move_to(local(LONDON, 3, 7, 12))  # four days after the session: early recovery

    response = client.get(page_path(completed.pk))

    assert response.status_code == 200
    html = response.content.decode()
    current = re.findall(r'<li class="current" aria-current="step">\s*<details open>\s*<summary><span>([^<]+)', html)
    assert current == ["Days 3–7"]
    assert html.count('<li class="past"') == 1 and html.count('<li class="future"') == 3
    words = text_of(html)
    assert "for amelia, after your session on tuesday 3 march 2026 at 10:00" in words
    assert "days 3 to 7 are early recovery" in words  # the day-3 step's own words, in its phase
    assert "call 020 7946 0000" in words
    assert "how is your skin?" in words
    assert response["Referrer-Policy"] == "same-origin" and "no-store" in response["Cache-Control"]
    # Nothing loaded from anywhere: no script, no external stylesheet, font or image.
    assert "<script" not in html and "<link" not in html and "<img" not in html
    assert len(response.content) < 40_000


def test_the_page_after_the_final_session_carries_every_spec_fact(client: Client, clock, course, practitioner, room):
    sessions, _ = run_four_session_course(clock, course, practitioner, room, deliver=False)

    words = text_of(client.get(page_path(sessions[-1].pk)).content.decode())

    missing = [fact for fact, phrases in SPEC_FACTS if not all(p.lower() in words for p in phrases)]
    assert missing == []
    assert "dear amelia" not in words  # a page has no greeting line
    # The red flags that the first and the day-1 messages both carry are said once.
    assert words.count("contact us straight away") == 1
    assert "{{" not in words and "{%" not in words


def test_before_the_session_the_page_shows_the_appointment(client: Client, clock, course, practitioner, room) -> None:
    booked = book(course, practitioner, room, local(LONDON, 3, 10, 14, 30))

    response = client.get(page_path(booked.pk))

    words = text_of(response.content.decode())
    assert response.status_code == 200
    assert "your appointment" in words and "tuesday 10 march 2026 at 14:30" in words
    assert "how is your skin?" not in words  # no check-in before a session took place


def test_an_altered_forged_or_expired_token_gets_a_404_that_names_no_one(client: Client, clock, completed) -> None:
    token = page_token(completed.pk)
    raw = bytearray(base64.urlsafe_b64decode(token + "="))
    raw[0] ^= 1  # another session id under the same signature
    altered = base64.urlsafe_b64encode(bytes(raw)).decode().rstrip("=")
    expired = page_token(completed.pk, expires_on=date(2026, 3, 2))
    # The last character holds 4 bits of the token and 2 unused ones: flipping an unused one spells the same
    # bytes another way, and must fail too.
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    same_bytes = token[:-1] + alphabet[alphabet.index(token[-1]) ^ 1]
    other_bytes = token[:-1] + alphabet[alphabet.index(token[-1]) ^ 16]
    tries = [altered, same_bytes, other_bytes, token[:20], "x" * 43, expired, "%%%"]

    for bad in tries:
        response = client.get(f"/c/{bad}/")
        assert response.status_code == 404, bad
        assert "Amelia" not in response.content.decode()
    assert client.get(f"/c/{token}/").status_code == 200


def test_a_link_expires_after_its_days(client: Client, clock, settings, completed) -> None:
    settings.AFTERCARE_PAGE_LINK_DAYS = 30
    path = page_path(completed.pk)

    clock.shift(timedelta(days=30))
    assert client.get(path).status_code == 200
    clock.shift(timedelta(days=1))
    assert client.get(path).status_code == 404


def test_a_link_signed_with_a_rotated_key_still_opens(client: Client, settings, completed) -> None:
    path = page_path(completed.pk)
    settings.SECRET_KEY_FALLBACKS = [settings.SECRET_KEY]
    settings.SECRET_KEY = "a-new-key-" + "x" * 50

    assert client.get(path).status_code == 200
    settings.SECRET_KEY_FALLBACKS = []
    assert client.get(path).status_code == 404


def test_an_erased_patients_link_gets_a_404(client: Client, clock, completed) -> None:
    path = page_path(completed.pk)
    admin = UserFactory(username="boss", is_superuser=True, is_staff=True)

    patient_erase(patient=completed.course.patient, actor=admin)

    response = client.get(path)
    assert response.status_code == 404
    assert "Amelia" not in response.content.decode()


def test_a_cancelled_sessions_page_shows_the_clinic_and_nothing_about_the_patient(
    client: Client, clock, course, practitioner, room
) -> None:
    booked = book(course, practitioner, room, local(LONDON, 3, 10, 14, 30))
    services.session_cancel(session=booked, reason="patient_request", actor=None)

    response = client.get(page_path(booked.pk))

    html = response.content.decode()
    assert response.status_code == 410
    assert "This appointment was cancelled" in html and "Marylebone" in html
    assert "Amelia" not in html and "14:30" not in html


def test_the_page_reads_a_fixed_number_of_queries_however_long_the_course(
    client: Client, clock, course, practitioner, room, django_assert_max_num_queries
) -> None:
    sessions, _ = run_four_session_course(clock, course, practitioner, room, deliver=False)
    first = client.get(page_path(sessions[0].pk))  # warm: the session machinery and template caches

    # The session with its course, patient, location and plan; the course's sessions; its follow-up;
    # the plan's steps and their email templates; the session's Django session and CSRF need none.
    with django_assert_max_num_queries(6) as counted:
        response = client.get(page_path(sessions[-1].pk))

    assert first.status_code == response.status_code == 200
    assert len(counted) == 5


# --- the page's buttons: into the front desk's inbox -------------------------------------


def ask_path(session_id) -> str:
    return page_path(session_id) + "ask/"


def test_a_patient_confirms_their_appointment_from_its_page(client: Client, clock, course, practitioner, room):
    from aftercare.models import InboundMessage

    booked = book(course, practitioner, room, local(LONDON, 3, 10, 14, 30))

    response = client.post(ask_path(booked.pk), {"intent": "confirm"})

    assert response.status_code == 302 and response["Location"].endswith("?asked=confirm#next")
    booked.refresh_from_db()
    assert booked.confirmed_at is not None
    filed = InboundMessage.objects.get()
    assert (filed.channel, filed.intent, filed.session_id, filed.handled_at is not None) == (
        "web",
        "confirm",
        booked.pk,
        True,
    )
    words = text_of(client.get(response["Location"]).content.decode())
    assert "thank you: your appointment is confirmed" in words and "you have confirmed this appointment" in words


def test_asking_to_change_or_to_book_waits_in_the_inbox_with_the_patients_words(
    client: Client, clock, course, practitioner, room
):
    from aftercare.models import InboundMessage

    done = complete(book(course, practitioner, room, local(LONDON, 3, 3, 10)), clock)
    assert client.post(ask_path(done.pk), {"intent": "booking_request", "note": "Mornings please"}).status_code == 302
    nxt = book(course, practitioner, room, local(LONDON, 3, 20, 10))
    assert client.post(ask_path(nxt.pk), {"intent": "rebook_request"}).status_code == 302

    booking, rebooking = InboundMessage.objects.order_by("received_at", "intent")
    assert (booking.intent, booking.body, booking.handled_at) == ("booking_request", "Mornings please", None)
    assert (rebooking.intent, rebooking.session_id, rebooking.handled_at) == ("rebook_request", nxt.pk, None)
    assert booking.history.latest().history_actor == "patient:aftercare page"


def test_the_buttons_refuse_what_the_page_does_not_offer(client: Client, clock, course, practitioner, room):
    from aftercare.models import InboundMessage

    booked = book(course, practitioner, room, local(LONDON, 3, 10, 14, 30))
    for data in ({"intent": "opt_out"}, {"intent": ""}, {"intent": "rebook_request", "note": "x" * 501}):
        assert client.post(ask_path(booked.pk), data).status_code == 400
    assert client.post("/c/" + "x" * 43 + "/ask/", {"intent": "confirm"}).status_code == 404
    assert client.get(ask_path(booked.pk)).status_code == 405
    services.session_cancel(session=booked, reason="patient_request", actor=None)
    assert client.post(ask_path(booked.pk), {"intent": "confirm"}).status_code == 400
    assert not InboundMessage.objects.exists()
