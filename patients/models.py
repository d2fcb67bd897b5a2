from __future__ import annotations

import uuid

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import GinIndex, OpClass
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q, TextField, Value
from django.db.models.functions import Concat, Upper
from timezone_field import TimeZoneField

from clinic.audit import audited
from clinic.phones import PhoneField
from patients.validators import validate_birth_date, validate_one_line


class ContactChannel(models.TextChoices):
    EMAIL = "email", "Email"
    SMS = "sms", "SMS"


class SkinType(models.IntegerChoices):
    """Fitzpatrick skin phototype."""

    I = 1, "I: always burns, never tans"  # noqa: E741 - the scale's own numeral
    II = 2, "II: usually burns, tans minimally"
    III = 3, "III: sometimes burns, tans uniformly"
    IV = 4, "IV: burns minimally, tans well"
    V = 5, "V: rarely burns, tans darkly"
    VI = 6, "VI: never burns, deeply pigmented"


class MedicalFlag(models.TextChoices):
    """Conditions a practitioner must review before any treatment."""

    PREGNANCY = "pregnancy", "Pregnant or breastfeeding"
    ANTICOAGULANTS = "anticoagulants", "Takes anticoagulants"
    ACTIVE_SKIN_INFECTION = "active_skin_infection", "Active skin infection"
    COMPONENT_ALLERGY = "component_allergy", "Allergy to a component"
    AUTOIMMUNE_DISEASE = "autoimmune_disease", "Autoimmune disease"


def patient_search_text() -> Concat:
    """What patient search reads: first and last name, email and phone (E.164), one space between each.

    The trigram index `patient_search_trgm_idx` is built on UPPER() of exactly
    this expression, and `patients.selectors.patient_search` matches against
    it (`icontains` is UPPER(...) LIKE UPPER(...)), so PostgreSQL can use the
    index instead of reading every patient. A search word holds no space, so
    it never matches across two fields; a quoted phrase may ("Amelia Hart").
    """
    return Concat(
        "first_name", Value(" "), "last_name", Value(" "), "email", Value(" "), "phone", output_field=TextField()
    )


class Patient(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    first_name = models.CharField(max_length=100, validators=[validate_one_line])
    last_name = models.CharField(max_length=100, validators=[validate_one_line])
    email = models.EmailField(blank=True)
    phone = PhoneField(
        blank=True, help_text="As dialled in the clinic's country, or with + and the country code; saved in E.164."
    )
    date_of_birth = models.DateField(validators=[validate_birth_date])
    preferred_channel = models.CharField(max_length=10, choices=ContactChannel.choices, default=ContactChannel.EMAIL)
    language = models.CharField(max_length=10, choices=settings.LANGUAGES, default="en")
    time_zone = TimeZoneField(
        default=settings.CLINIC_DEFAULT_TIME_ZONE,
        use_pytz=False,
        help_text="IANA zone, e.g. Europe/London. Aftercare messages go out at local times in this zone.",
    )
    skin_type = models.PositiveSmallIntegerField(
        choices=SkinType.choices, null=True, blank=True, help_text="Fitzpatrick phototype I–VI."
    )
    medical_flags = ArrayField(
        models.CharField(max_length=32, choices=MedicalFlag.choices),
        default=list,
        blank=True,
        help_text="Conditions that need a practitioner's review before treatment.",
    )
    medical_notes = models.TextField(blank=True)
    erased_at = models.DateTimeField(
        null=True, blank=True, help_text="Personal data anonymised on request; the clinical record is kept."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True, db_index=True)
    history = audited()

    class Meta:
        ordering = ["last_name", "first_name", "id"]
        permissions = [
            ("export_patient", "Can export everything held on a patient"),
            ("erase_patient", "Can erase a patient's personal data"),
        ]
        indexes = [
            models.Index(fields=["last_name", "first_name"], name="patient_name_idx"),
            # An inbound text is matched to the patient by the exact number it came from (aftercare.inbox).
            models.Index(fields=["phone"], name="patient_phone_idx"),
            GinIndex(OpClass(Upper(patient_search_text()), name="gin_trgm_ops"), name="patient_search_trgm_idx"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(skin_type__gte=1, skin_type__lte=6), name="patient_skin_type_1_to_6"),
            models.CheckConstraint(
                condition=Q(preferred_channel__in=ContactChannel.values), name="patient_preferred_channel_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.first_name} {self.last_name}"

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}"

    def clean(self) -> None:
        # The channel the patient asked for must be reachable, or every
        # aftercare message would be suppressed for want of an address.
        if self.preferred_channel == ContactChannel.EMAIL and not self.email:
            raise ValidationError({"email": "An email address is needed when the preferred channel is email."})
        if self.preferred_channel == ContactChannel.SMS and not self.phone:
            raise ValidationError({"phone": "A phone number is needed when the preferred channel is SMS."})
        if len(set(self.medical_flags)) != len(self.medical_flags):
            raise ValidationError({"medical_flags": "Each medical flag may appear once."})


class ConsentKind(models.TextChoices):
    TREATMENT = "treatment", "Treatment"
    SERVICE_MESSAGES = "service_messages", "Service messages (aftercare, reminders)"
    MARKETING = "marketing", "Marketing"


class Consent(models.Model):
    """A patient's consent of one kind (and scope), to one version of its wording.

    A treatment consent's scope names the consent form of the treatment it
    covers (a protocol's `treatment_consent_form`); other kinds have none. At
    most one consent per kind and scope is in force at a time; giving a new
    version revokes the old one. Rows are never deleted: the history is the proof.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="consents")
    kind = models.CharField(max_length=20, choices=ConsentKind.choices)
    scope = models.SlugField(
        max_length=50, blank=True, help_text="For treatment consents: the consent form, e.g. facial-mesotherapy."
    )
    version = models.CharField(max_length=50, help_text="Version of the consent wording the patient agreed to.")
    given_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True, db_index=True)
    history = audited()

    class Meta:
        ordering = ["-given_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["patient", "kind", "scope"],
                condition=Q(revoked_at__isnull=True),
                name="consent_one_active_per_kind_and_scope",
            ),
            models.CheckConstraint(
                condition=Q(revoked_at__isnull=True) | Q(revoked_at__gte=models.F("given_at")),
                name="consent_revoked_after_given",
            ),
            models.CheckConstraint(condition=Q(kind__in=ConsentKind.values), name="consent_kind_valid"),
        ]

    def __str__(self) -> str:
        state = "revoked" if self.revoked_at else "active"
        scope = f" ({self.scope})" if self.scope else ""
        return f"{self.get_kind_display()}{scope} v{self.version} ({state})"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None
