"""Load a small demo clinic and print an admin login. Safe to run repeatedly."""

from __future__ import annotations

import secrets
from datetime import date, datetime, time, timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from clinic.roles import CLINIC_ADMIN, CLINICAL_ADMIN, FRONT_DESK, PRACTITIONER
from patients import selectors as patient_selectors
from patients import services as patient_services
from patients.models import ConsentKind, ContactChannel, MedicalFlag, Patient, SkinType
from treatments import services as treatment_services
from treatments.models import (
    Course,
    Location,
    OpeningHours,
    Practitioner,
    Product,
    ProductKind,
    Protocol,
    Room,
    Weekday,
)

DEMO_PATIENTS: list[dict[str, Any]] = [
    {
        "first_name": "Amelia",
        "last_name": "Hart",
        "email": "amelia.hart@example.com",
        "phone": "+447911123401",
        "date_of_birth": date(1988, 4, 12),
        "preferred_channel": ContactChannel.EMAIL,
        "skin_type": SkinType.II,
    },
    {
        "first_name": "Priya",
        "last_name": "Shah",
        "email": "priya.shah@example.com",
        "phone": "+447911123402",
        "date_of_birth": date(1979, 9, 30),
        "preferred_channel": ContactChannel.SMS,
        "skin_type": SkinType.IV,
    },
    {
        "first_name": "Chloé",
        "last_name": "Martin",
        "email": "chloe.martin@example.com",
        "phone": "+33612345678",
        "date_of_birth": date(1993, 1, 5),
        "preferred_channel": ContactChannel.EMAIL,
        "time_zone": "Europe/Paris",
        "skin_type": SkinType.III,
    },
    {
        "first_name": "Grace",
        "last_name": "Okafor",
        "email": "grace.okafor@example.com",
        "phone": "+447911123404",
        "date_of_birth": date(1985, 7, 21),
        "preferred_channel": ContactChannel.SMS,
        "skin_type": SkinType.V,
        "medical_flags": [MedicalFlag.ANTICOAGULANTS],
        "medical_notes": "Takes warfarin; practitioner to review bruising risk before each session.",
    },
    {
        "first_name": "Hannah",
        "last_name": "Keller",
        "email": "hannah.keller@example.com",
        "phone": "+12125550123",
        "date_of_birth": date(1990, 11, 2),
        "preferred_channel": ContactChannel.EMAIL,
        "time_zone": "America/New_York",
        "skin_type": SkinType.I,
    },
    {
        # Reads her texts and her aftercare page in Spanish.
        "first_name": "Lucía",
        "last_name": "Fernández",
        "email": "lucia.fernandez@example.com",
        "phone": "+34612345678",
        "date_of_birth": date(1991, 3, 14),
        "preferred_channel": ContactChannel.SMS,
        "language": "es",
        "time_zone": "Europe/Madrid",
        "skin_type": SkinType.III,
    },
]

CONSENT_VERSION = "2026-01"
DEMO_CLINICAL_ALERT_EMAIL = "clinical.lead@example.com"


class Command(BaseCommand):
    help = "Load the demo clinic (location, rooms, practitioners, patients, products, courses); print a login."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument(
            "--admin-password",
            help="Password for the demo admin; a fresh random one is set and printed when omitted.",
        )

    @transaction.atomic
    def handle(self, *args: Any, **options: Any) -> None:
        User = get_user_model()

        location, _ = Location.objects.get_or_create(
            name="Marylebone Skin Clinic",
            defaults={"address": "12 Harley Street, London W1G 9PG", "phone": "+442079460000"},
        )
        if not location.email:
            # Patients' replies to their messages come here (a demo clinic loaded before it had one gets it now).
            location.email = "hello@marylebone-skin.example"
            location.save(update_fields=["email", "updated_at"])
        if not location.sender_email:
            # Emails to patients come from the clinic's own name and address.
            location.sender_name = "Marylebone Skin Clinic"
            location.sender_email = "care@marylebone-skin.example"
            location.save(update_fields=["sender_name", "sender_email", "updated_at"])
        if not location.clinical_alert_email:
            # Red flags reach a clinical inbox as well as the treating practitioner.
            location.clinical_alert_email = DEMO_CLINICAL_ALERT_EMAIL
            location.save(update_fields=["clinical_alert_email", "updated_at"])
        for weekday in (Weekday.MONDAY, Weekday.TUESDAY, Weekday.WEDNESDAY, Weekday.THURSDAY, Weekday.FRIDAY):
            OpeningHours.objects.get_or_create(
                location=location, weekday=weekday, opens_at=time(9), defaults={"closes_at": time(18)}
            )
        OpeningHours.objects.get_or_create(
            location=location, weekday=Weekday.SATURDAY, opens_at=time(10), defaults={"closes_at": time(14)}
        )
        for name in ("Treatment room 1", "Treatment room 2"):
            Room.objects.get_or_create(location=location, name=name)

        # One fresh password for every demo account, printed below.
        password = options["admin_password"] or secrets.token_urlsafe(12)
        roles = (CLINIC_ADMIN, CLINICAL_ADMIN, FRONT_DESK, PRACTITIONER)
        groups = {name: Group.objects.get(name=name) for name in roles}

        def staff(username: str, group: str, **flags: bool) -> Any:
            user, _ = User.objects.get_or_create(username=username, defaults={"email": f"{username}@example.com"})
            user.is_staff = True
            for flag, value in flags.items():
                setattr(user, flag, value)
            user.set_password(password)
            user.save()
            user.groups.add(groups[group])
            return user

        for username, display_name in (("dr.evans", "Dr Sarah Evans"), ("nurse.patel", "Nurse Ravi Patel")):
            user = staff(username, PRACTITIONER)
            practitioner, _ = Practitioner.objects.get_or_create(user=user, defaults={"display_name": display_name})
            practitioner.locations.add(location)
        staff("reception", FRONT_DESK)
        staff("clinical.lead", CLINICAL_ADMIN)
        admin = staff("admin", CLINIC_ADMIN, is_superuser=True)
        admin_password = password

        meso = Protocol.objects.get(name="Facial mesotherapy")
        for data in DEMO_PATIENTS:
            patient = Patient.objects.filter(email=data["email"]).first()
            if patient is None:
                patient = patient_services.patient_create(actor=admin, data=data)
                patient_services.consent_give(
                    patient=patient, kind=ConsentKind.SERVICE_MESSAGES, version=CONSENT_VERSION, actor=admin
                )
            # Every demo patient has signed the mesotherapy form's current version (also after it changed).
            if not patient_selectors.patient_has_consent(
                patient=patient,
                kind=ConsentKind.TREATMENT,
                scope=meso.treatment_consent_form,
                version=meso.treatment_consent_version,
            ):
                patient_services.consent_give(
                    patient=patient,
                    kind=ConsentKind.TREATMENT,
                    scope=meso.treatment_consent_form,
                    version=meso.treatment_consent_version,
                    actor=admin,
                )

        self._load_products(admin=admin)
        self._load_courses(location=location, admin=admin)

        self.stdout.write(
            self.style.SUCCESS(
                "Demo clinic loaded.\n"
                "  Admin:    /admin/\n"
                "  API docs: /api/docs/\n"
                f"  Login:    admin / {admin_password}\n"
                f"  Also:     reception (front desk), dr.evans and nurse.patel (practitioners), "
                f"clinical.lead (clinical admin), same password"
            )
        )

    def _load_products(self, *, admin: Any) -> None:
        today = timezone.localdate()
        for name, kind, manufacturer, unit, lot_number, months in (
            ("NCTF 135HA", ProductKind.SOLUTION, "Filorga", "ml", "NC24-0917", 18),
            ("Hydra Vitamin Cocktail", ProductKind.SOLUTION, "Dermalab", "ml", "HV25-0311", 12),
            ("Multi-injector 5-pin 32G", ProductKind.MULTI_INJECTOR_NEEDLE, "Mesoram", "unit", "MI-77812", 36),
            ("Microcannula 25G 38 mm", ProductKind.MICROCANNULA, "TSK", "unit", "MC-40931", 36),
        ):
            product = Product.objects.filter(name=name, manufacturer=manufacturer).first()
            if product is None:
                product = treatment_services.product_create(
                    name=name, manufacturer=manufacturer, kind=kind, unit=unit, actor=admin
                )
            if not product.lots.filter(lot_number=lot_number).exists():
                treatment_services.product_lot_create(
                    product=product,
                    lot_number=lot_number,
                    expires_on=today + timedelta(days=30 * months),
                    received_on=today,
                    actor=admin,
                )

    def _load_courses(self, *, location: Location, admin: Any) -> None:
        """A mesotherapy course for three patients, the first sessions booked in the coming days."""
        protocol = Protocol.objects.get(name="Facial mesotherapy")
        practitioners = list(Practitioner.objects.filter(locations=location).order_by("display_name"))
        rooms = list(location.rooms.order_by("name"))
        zone = location.time_zone
        day = timezone.localdate(timezone=zone) + timedelta(days=1)
        while day.weekday() >= Weekday.SATURDAY:
            day += timedelta(days=1)
        for index, email in enumerate(
            ["amelia.hart@example.com", "priya.shah@example.com", "chloe.martin@example.com"]
        ):
            patient = Patient.objects.get(email=email)
            if Course.objects.filter(patient=patient).exists():
                continue
            course = treatment_services.course_create(
                patient=patient, protocol=protocol, location=location, actor=admin
            )
            if index < 2:
                treatment_services.session_book(
                    course=course,
                    practitioner=practitioners[index % len(practitioners)],
                    room=rooms[index % len(rooms)],
                    starts_at=datetime.combine(day, time(10 + index), tzinfo=zone),
                    actor=admin,
                )
