from __future__ import annotations

from io import StringIO

import pytest
from django.contrib.auth import authenticate
from django.core.management import call_command
from django.test import RequestFactory

from patients.models import Consent, Patient
from treatments.models import Course, Location, Practitioner, ProductLot, Protocol, Room, Session

pytestmark = pytest.mark.django_db


def sign_in(*, username: str, password: str):
    """The admin login's check (django-axes wants the request it counts attempts from)."""
    return authenticate(RequestFactory().post("/admin/login/"), username=username, password=password)


def test_demo_clinic_loads_once_and_prints_a_working_login() -> None:
    out = StringIO()
    call_command("load_demo", admin_password="first-demo-password", stdout=out)

    assert "Login:    admin / first-demo-password" in out.getvalue()
    assert sign_in(username="admin", password="first-demo-password") is not None
    reception = sign_in(username="reception", password="first-demo-password")
    assert reception is not None
    assert reception.has_perm("treatments.add_session")
    assert not reception.has_perm("treatments.view_all_clinical_notes")
    assert sign_in(username="dr.evans", password="first-demo-password").has_perm("treatments.complete_session")
    clinical_lead = sign_in(username="clinical.lead", password="first-demo-password")
    assert clinical_lead is not None
    assert clinical_lead.groups.get().name == "Clinical admin"
    assert Location.objects.count() == 1
    assert Location.objects.get().email == "hello@marylebone-skin.example", "replies to messages reach the clinic"
    # Red flags reach a clinical inbox as well as the treating practitioner.
    assert Location.objects.get().clinical_alert_email == "clinical.lead@example.com"
    assert Room.objects.count() == 2
    assert Practitioner.objects.count() == 2
    assert Patient.objects.count() == 6
    assert Consent.objects.filter(revoked_at__isnull=True).count() == 12
    assert Course.objects.count() == 3
    assert Session.objects.filter(status="booked").count() == 2
    assert ProductLot.objects.count() == 4

    call_command("load_demo", admin_password="second-demo-password", stdout=StringIO())

    assert Patient.objects.count() == 6, "a second run must not duplicate the demo"
    assert Course.objects.count() == 3
    assert Session.objects.count() == 2
    assert Location.objects.get().opening_hours.count() == 6
    assert sign_in(username="admin", password="second-demo-password") is not None
    assert sign_in(username="admin", password="first-demo-password") is None


def test_a_second_run_gives_demo_patients_a_changed_treatment_consent_form() -> None:
    call_command("load_demo", admin_password="demo-password", stdout=StringIO())
    Protocol.objects.filter(name="Facial mesotherapy").update(treatment_consent_version="2027-1")

    call_command("load_demo", admin_password="demo-password", stdout=StringIO())

    signed = Consent.objects.filter(kind="treatment", version="2027-1", revoked_at__isnull=True)
    assert signed.count() == Patient.objects.count() == 6
    assert not Consent.objects.filter(kind="treatment", version="2026-1", revoked_at__isnull=True).exists()
