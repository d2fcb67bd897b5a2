from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import factory
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.utils import timezone

from patients.models import Consent, ConsentKind, ContactChannel, Patient
from treatments.followup import followup_refresh
from treatments.models import (
    Course,
    Location,
    OpeningHours,
    Practitioner,
    Product,
    ProductKind,
    ProductLot,
    Protocol,
    Room,
    Session,
)


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"staff{n}")
    email = factory.LazyAttribute(lambda user: f"{user.username}@clinic.example")
    is_staff = True
    password = factory.django.Password("correct-horse-battery")

    @factory.post_generation
    def permissions(self, create: bool, codenames: list[str] | None, **kwargs: object) -> None:
        """`UserFactory(permissions=["patients.view_patient", …])`."""
        if not create or not codenames:
            return
        for dotted in codenames:
            app_label, codename = dotted.split(".")
            self.user_permissions.add(Permission.objects.get(content_type__app_label=app_label, codename=codename))
        self.save()


class PatientFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Patient

    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    email = factory.LazyAttributeSequence(lambda p, n: f"{p.first_name}.{p.last_name}.{n}@patients.example".lower())
    phone = factory.Sequence(lambda n: f"+4479111{n % 100000:05d}")
    date_of_birth = date(1986, 3, 14)
    preferred_channel = ContactChannel.EMAIL
    time_zone = "Europe/London"


class ConsentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Consent

    patient = factory.SubFactory(PatientFactory)
    kind = ConsentKind.SERVICE_MESSAGES
    # A treatment consent is to a protocol's consent form: the shipped mesotherapy form.
    scope = factory.LazyAttribute(lambda c: "facial-mesotherapy" if c.kind == ConsentKind.TREATMENT else "")
    version = "2026-01"
    given_at = factory.Faker("past_datetime", start_date="-30d", tzinfo=UTC)


# --- treatments ------------------------------------------------------------------


def mesotherapy_protocol() -> Protocol:
    """The facial mesotherapy protocol loaded by the data migration."""
    return Protocol.objects.select_related("category").get(name="Facial mesotherapy")


class LocationFactory(factory.django.DjangoModelFactory):
    """A clinic in London open every day 08:00–20:00, unless `opening_hours` says otherwise."""

    class Meta:
        model = Location
        skip_postgeneration_save = True

    name = factory.Sequence(lambda n: f"Clinic {n}")
    time_zone = "Europe/London"

    @factory.post_generation
    def opening_hours(self, create: bool, hours: list[tuple[int, time, time]] | None, **kwargs: object) -> None:
        if not create:
            return
        for weekday, opens_at, closes_at in hours or [(day, time(8), time(20)) for day in range(7)]:
            OpeningHours.objects.create(location=self, weekday=weekday, opens_at=opens_at, closes_at=closes_at)


class RoomFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Room

    location = factory.SubFactory(LocationFactory)
    name = factory.Sequence(lambda n: f"Room {n}")


class PractitionerFactory(factory.django.DjangoModelFactory):
    """A practitioner working at `locations` (default: none; pass them)."""

    class Meta:
        model = Practitioner
        skip_postgeneration_save = True

    user = factory.SubFactory(UserFactory, username=factory.Sequence(lambda n: f"practitioner{n}"))
    display_name = factory.Sequence(lambda n: f"Dr Practitioner {n}")

    @factory.post_generation
    def locations(self, create: bool, locations: list[Location] | None, **kwargs: object) -> None:
        if create and locations:
            self.locations.add(*locations)


# Long before any test's clock: a consent on file before every session of the scene.
CONSENTED_LONG_AGO = datetime(2020, 1, 1, tzinfo=UTC)


class CourseFactory(factory.django.DjangoModelFactory):
    """A course whose patient has signed the protocol's current consent form, unless `consented=False`."""

    class Meta:
        model = Course
        skip_postgeneration_save = True

    patient = factory.SubFactory(PatientFactory)
    protocol = factory.LazyFunction(mesotherapy_protocol)
    location = factory.SubFactory(LocationFactory)
    planned_sessions = 4

    @factory.post_generation
    def consented(self, create: bool, extracted: bool | None, **kwargs: object) -> None:
        if not create or extracted is False:
            return
        form, version = self.protocol.treatment_consent_form, self.protocol.treatment_consent_version
        if not Consent.objects.filter(patient=self.patient, kind="treatment", scope=form, version=version).exists():
            Consent.objects.create(
                patient=self.patient, kind="treatment", scope=form, version=version, given_at=CONSENTED_LONG_AGO
            )

    @factory.post_generation
    def followup(self, create: bool, extracted: object, **kwargs: object) -> None:
        # What course_create does: store the new course's follow-up state.
        if create:
            followup_refresh([self.pk])


class SessionFactory(factory.django.DjangoModelFactory):
    """A session row made directly, bypassing the booking rules: for setting
    the scene. Book through treatments.services when the rules are the subject."""

    class Meta:
        model = Session
        skip_postgeneration_save = True

    course = factory.SubFactory(CourseFactory)
    location = factory.LazyAttribute(lambda s: s.course.location)
    room = factory.LazyAttribute(lambda s: RoomFactory(location=s.location))
    practitioner = factory.LazyAttribute(lambda s: PractitionerFactory(locations=[s.location]))
    starts_at = factory.LazyFunction(lambda: timezone.now() + timedelta(days=1))
    ends_at = factory.LazyAttribute(lambda s: s.starts_at + timedelta(minutes=45))

    @factory.post_generation
    def followup(self, create: bool, extracted: object, **kwargs: object) -> None:
        # As the session-event door does for every session change.
        if create:
            followup_refresh([self.course_id])


class ProductFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Product

    name = factory.Sequence(lambda n: f"Hyaluronic cocktail {n}")
    kind = ProductKind.SOLUTION
    manufacturer = "Dermalab"
    unit = "ml"


class ProductLotFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ProductLot

    product = factory.SubFactory(ProductFactory)
    lot_number = factory.Sequence(lambda n: f"LOT-{n:05d}")
    expires_on = factory.LazyFunction(lambda: timezone.localdate() + timedelta(days=365))


# --- aftercare ---------------------------------------------------------------------


class ScheduledMessageFactory(factory.django.DjangoModelFactory):
    """An outbox row due now, on the patient's preferred channel, written directly (not scheduled)."""

    class Meta:
        model = "aftercare.ScheduledMessage"

    kind = "aftercare"
    dedupe_key = factory.Sequence(lambda n: f"test-message-{n}")
    patient = factory.SubFactory(PatientFactory)
    channel = factory.LazyAttribute(lambda message: message.patient.preferred_channel)
    subject = "Your aftercare"
    body = factory.Sequence(lambda n: f"Aftercare message {n}: keep the treated skin clean and cool.")
    due_at = factory.LazyFunction(timezone.now)
