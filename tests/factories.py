from __future__ import annotations

from datetime import UTC, date

import factory
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission

from patients.models import Consent, ConsentKind, ContactChannel, Patient


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
    version = "2026-01"
    given_at = factory.Faker("past_datetime", start_date="-30d", tzinfo=UTC)
