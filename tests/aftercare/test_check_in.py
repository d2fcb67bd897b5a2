"""The patient tells the clinic how their skin is, from their own page.

The report goes through the same service as staff's and booking software's:
a red flag alerts the clinicians and answers the patient in the same
dispatch run; expected, settling after-effects get the plan's reassurance.
A photo is kept privately, re-encoded without its metadata.
"""

from __future__ import annotations

import io
import re
from datetime import timedelta

import pytest
from django.conf import settings
from django.core import mail
from django.core.files.storage import storages
from django.test import Client
from PIL import Image

from aftercare.dispatch import dispatch_due
from aftercare.models import MessageKind, MessageStatus, ReportSource, ScheduledMessage, SideEffectReport
from tests.aftercare.conftest import LONDON, book, complete, local
from tests.aftercare.test_page import page_path, text_of
from tests.factories import UserFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("outside_world")]


@pytest.fixture
def completed(clock, course, practitioner, room):
    session = complete(book(course, practitioner, room, local(LONDON, 3, 3, 10)), clock)
    clock.move_to(local(LONDON, 3, 4, 11))  # the next morning
    return session


def jpeg_with_gps() -> bytes:
    image = Image.new("RGB", (3000, 2000), (200, 120, 110))
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"  # Make
    exif[0x0110] = "Model X"  # Model
    exif[0x8825] = {1: "N", 2: (51.0, 31.0, 12.0), 3: "W", 4: (0.0, 9.0, 30.0)}  # GPS
    output = io.BytesIO()
    image.save(output, format="JPEG", exif=exif)
    return output.getvalue()


def test_a_mild_settling_symptom_gets_the_plans_reassurance_and_alerts_no_one(client: Client, completed) -> None:
    path = page_path(completed.pk)

    response = client.post(path, {"symptoms": ["redness", "swelling"], "severity": "mild", "onset_on": "2026-03-03"})

    assert response.status_code == 302
    report = SideEffectReport.objects.get()
    assert response["Location"] == f"{path}?report={report.pk}#outcome"
    assert (report.source, report.is_red_flag, report.reported_by) == (ReportSource.PATIENT, False, None)
    assert report.history.latest().history_actor == "patient:aftercare page"
    words = text_of(client.get(response["Location"]).content.decode())
    assert "what you describe is expected after a session" in words
    assert "redness: should have settled by thursday 5 march" in words
    assert "swelling: should have settled by thursday 5 march" in words
    assert not ScheduledMessage.objects.filter(report=report).exists()


def test_a_red_flag_alerts_staff_and_answers_the_patient_in_the_same_dispatch_run(client: Client, completed) -> None:
    completed.location.clinical_alert_email = "clinical.lead@clinic.example"
    completed.location.save()
    path = page_path(completed.pk)
    dispatch_due()  # the plan's messages due by now are out of the way
    mail.outbox.clear()

    response = client.post(
        path,
        {"symptoms": ["pus", "swelling"], "severity": "severe", "onset_on": "2026-03-04", "notes": "Hot to touch"},
    )
    result = dispatch_due()

    report = SideEffectReport.objects.get()
    assert report.is_red_flag and report.notes == "Hot to touch"
    sent = ScheduledMessage.objects.filter(report=report, status=MessageStatus.SENT)
    assert sorted(sent.values_list("kind", flat=True)) == [
        MessageKind.RED_FLAG_ALERT,
        MessageKind.RED_FLAG_ALERT,
        MessageKind.RED_FLAG_REPLY,
    ]
    assert result.sent == 3
    recipients = {tuple(email.to) for email in mail.outbox}
    assert recipients == {("dr.evans@clinic.example",), ("clinical.lead@clinic.example",), ("amelia.hart@example.com",)}
    # On screen at once, in the words the reply carries.
    words = text_of(client.get(response["Location"]).content.decode())
    assert "we have alerted your practitioner now." in words
    assert words.count("what you describe needs a closer look") == 1  # said once, in the reply's own words
    assert "leave the treated area alone" in words
    assert "call 999" in words  # severe: emergency services named


def test_a_photo_is_kept_privately_without_its_metadata(client: Client, completed) -> None:
    upload = io.BytesIO(jpeg_with_gps())
    upload.name = "IMG_0042.jpg"

    client.post(
        page_path(completed.pk),
        {"symptoms": ["bruising"], "severity": "mild", "onset_on": "2026-03-03", "photo": upload},
    )

    report = SideEffectReport.objects.get()
    assert report.photo.name.startswith(f"side-effect-photos/{report.patient_id}/")
    assert "IMG_0042" not in report.photo.name
    storage = report.photo.storage
    assert storage is storages["private"] and storage.base_location == settings.PRIVATE_FILES_ROOT
    try:
        stored = report.photo.read()
        with Image.open(io.BytesIO(stored)) as image:
            assert image.format == "JPEG"
            assert max(image.size) == 2048
            assert dict(image.getexif()) == {}
            assert "exif" not in image.info and "xmp" not in image.info
        assert b"PhoneMaker" not in stored and b"GPS" not in stored
    finally:
        report.photo.close()
        storage.delete(report.photo.name)


@pytest.mark.parametrize(
    ("data", "error"),
    [
        ({"severity": "mild", "onset_on": "2026-03-03"}, "Tick at least one."),
        ({"symptoms": ["redness"], "onset_on": "2026-03-03"}, "Choose one."),
        ({"symptoms": ["redness"], "severity": "mild", "onset_on": "2026-03-05"}, "That day has not come yet."),
        ({"symptoms": ["redness"], "severity": "mild", "onset_on": "2026-02-20"}, "Choose a day from your session on."),
        ({"symptoms": ["hiccups"], "severity": "mild", "onset_on": "2026-03-03"}, "Select a valid choice."),
        ({"symptoms": ["redness"], "severity": "mild", "onset_on": "03/03/2026"}, "Enter a valid date."),
    ],
)
def test_a_form_filled_wrongly_says_what_to_mend_and_files_nothing(client: Client, completed, data, error) -> None:
    response = client.post(page_path(completed.pk), data)

    assert response.status_code == 200
    assert error in response.content.decode()
    assert not SideEffectReport.objects.exists()


def test_a_file_that_is_not_a_picture_is_refused(client: Client, completed) -> None:
    upload = io.BytesIO(b"%PDF-1.4 not a photo")
    upload.name = "scan.jpg"

    response = client.post(
        page_path(completed.pk),
        {"symptoms": ["redness"], "severity": "mild", "onset_on": "2026-03-03", "photo": upload},
    )

    assert response.status_code == 200
    assert "This file is not a picture we can read" in response.content.decode()
    assert not SideEffectReport.objects.exists()


def test_the_form_is_protected_against_cross_site_posts(completed) -> None:
    strict = Client(enforce_csrf_checks=True)

    response = strict.post(
        page_path(completed.pk), {"symptoms": ["redness"], "severity": "mild", "onset_on": "2026-03-03"}
    )

    assert response.status_code == 403
    assert not SideEffectReport.objects.exists()
    page = strict.get(page_path(completed.pk)).content.decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
    data = {"symptoms": ["redness"], "severity": "mild", "onset_on": "2026-03-03", "csrfmiddlewaretoken": token}
    assert strict.post(page_path(completed.pk), data).status_code == 302


def test_a_page_flooded_with_reports_stops_filing_them(client: Client, completed, clock) -> None:
    data = {"symptoms": ["redness"], "severity": "mild", "onset_on": "2026-03-03"}
    for _ in range(10):
        assert client.post(page_path(completed.pk), data).status_code == 302

    response = client.post(page_path(completed.pk), data)

    assert response.status_code == 200 and "please call us" in response.content.decode()
    assert SideEffectReport.objects.count() == 10
    clock.shift(timedelta(hours=1, minutes=1))
    assert client.post(page_path(completed.pk), data).status_code == 302


def test_a_report_id_of_another_session_shows_nothing_of_it(client: Client, completed, course, practitioner, room):
    client.post(page_path(completed.pk), {"symptoms": ["rash"], "severity": "mild", "onset_on": "2026-03-04"})
    report = SideEffectReport.objects.get()
    other = book(course, practitioner, room, local(LONDON, 3, 20, 10))

    words = text_of(client.get(page_path(other.pk) + f"?report={report.pk}").content.decode())

    assert "we have your report" not in words
    assert client.get(page_path(completed.pk) + "?report=not-a-uuid").status_code == 200


def test_the_photo_is_shown_to_those_who_treat_the_patient_and_no_one_else(completed) -> None:
    from clinic.roles import FRONT_DESK, PRACTITIONER
    from tests.treatments.conftest import in_role

    upload = io.BytesIO(jpeg_with_gps())
    upload.name = "IMG_0042.jpg"
    Client().post(
        page_path(completed.pk),
        {"symptoms": ["bruising"], "severity": "mild", "onset_on": "2026-03-03", "photo": upload},
    )
    report = SideEffectReport.objects.get()
    photo_url = f"/admin/aftercare/sideeffectreport/{report.pk}/photo/"
    change_url = f"/admin/aftercare/sideeffectreport/{report.pk}/change/"
    treating, desk = Client(), Client()
    treating.force_login(in_role(completed.practitioner.user, PRACTITIONER))
    desk.force_login(in_role(UserFactory(username="reception"), FRONT_DESK))
    try:
        response = treating.get(photo_url)
        assert response.status_code == 200 and response["Content-Type"] == "image/jpeg"
        assert "no-store" in response["Cache-Control"] and "private" in response["Cache-Control"]
        assert b"".join(response.streaming_content).startswith(b"\xff\xd8")
        assert photo_url in treating.get(change_url).content.decode()

        assert desk.get(photo_url).status_code == 403
        assert photo_url not in desk.get(change_url).content.decode()
    finally:
        report.photo.storage.delete(report.photo.name)


def test_erasing_the_patient_deletes_their_photo_and_keeps_the_report(
    completed, django_capture_on_commit_callbacks
) -> None:
    from frontdesk.data_rights import patient_erase, patient_export

    upload = io.BytesIO(jpeg_with_gps())
    upload.name = "IMG_0042.jpg"
    Client().post(
        page_path(completed.pk),
        {"symptoms": ["bruising"], "severity": "mild", "onset_on": "2026-03-03", "photo": upload},
    )
    report = SideEffectReport.objects.get()
    name, storage = report.photo.name, report.photo.storage
    admin = UserFactory(username="boss", is_superuser=True, is_staff=True)
    assert patient_export(patient=completed.course.patient, actor=admin)["side_effect_reports"][0]["photo"] == name

    with django_capture_on_commit_callbacks(execute=True):
        patient_erase(patient=completed.course.patient, actor=admin)

    report.refresh_from_db()
    assert report.photo.name == "" and report.symptoms == ["bruising"]
    assert not storage.exists(name)
