from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from clinic.api.serializers import FastRepresentationMixin, OffsetDateTimeField, StrictInputMixin, TimeZoneField
from clinic.prefetch import rows_of
from patients.api.serializers import response_clinical_access
from patients.models import Patient
from treatments import rules
from treatments.followup import followup_of
from treatments.models import (
    CancelReason,
    ConflictRule,
    Course,
    CourseOverride,
    Location,
    MedicalClearance,
    OpeningHours,
    Practitioner,
    Product,
    ProductLot,
    Protocol,
    Room,
    RuleOverride,
    Session,
    SessionProductUse,
    SessionStatus,
    TreatedArea,
    TreatmentCategory,
)
from treatments.selectors import MAX_AVAILABILITY_DAYS

# --- reference data ------------------------------------------------------------


class OpeningHoursSerializer(FastRepresentationMixin, serializers.ModelSerializer):
    class Meta:
        model = OpeningHours
        fields = ["weekday", "opens_at", "closes_at"]


class LocationOutputSerializer(FastRepresentationMixin, serializers.ModelSerializer):
    time_zone = TimeZoneField(use_pytz=False, read_only=True)
    phone = serializers.CharField(read_only=True)
    opening_hours = OpeningHoursSerializer(many=True, read_only=True)

    class Meta:
        model = Location
        fields = ["id", "name", "address", "phone", "time_zone", "is_active", "opening_hours", "updated_at"]


class RoomOutputSerializer(FastRepresentationMixin, serializers.ModelSerializer):
    class Meta:
        model = Room
        fields = ["id", "name", "location", "is_active", "updated_at"]


class PractitionerOutputSerializer(FastRepresentationMixin, serializers.ModelSerializer):
    class Meta:
        model = Practitioner
        fields = ["id", "display_name", "locations", "is_active", "updated_at"]


class ConflictRuleSerializer(FastRepresentationMixin, serializers.ModelSerializer):
    blocked_category: serializers.SlugRelatedField[TreatmentCategory] = serializers.SlugRelatedField(
        slug_field="code", read_only=True
    )

    class Meta:
        model = ConflictRule
        fields = ["blocked_category", "days"]


class ProtocolOutputSerializer(FastRepresentationMixin, serializers.ModelSerializer):
    category: serializers.SlugRelatedField[TreatmentCategory] = serializers.SlugRelatedField(
        slug_field="code", read_only=True
    )
    conflict_rules = ConflictRuleSerializer(many=True, read_only=True)

    class Meta:
        model = Protocol
        fields = [
            "id",
            "name",
            "category",
            "description",
            "min_sessions",
            "max_sessions",
            "default_sessions",
            "min_spacing_days",
            "max_spacing_days",
            "maintenance_min_days",
            "maintenance_max_days",
            "session_duration_minutes",
            "conflict_rules",
            "is_active",
            "updated_at",
        ]


# --- courses ----------------------------------------------------------------------


class CourseOutputSerializer(FastRepresentationMixin, serializers.ModelSerializer):
    """A course read through treatments.followup.with_followup (see selectors.course_list)."""

    sessions_done = serializers.SerializerMethodField(help_text="Completed course sessions (maintenance not counted).")
    maintenance_sessions_done = serializers.SerializerMethodField()
    next_window_start = serializers.SerializerMethodField(
        help_text="Earliest local date for the next session or maintenance; null when none is due."
    )
    next_window_end = serializers.SerializerMethodField(
        help_text="Latest local date for the next session or maintenance; null when none is due."
    )
    sessions = serializers.SerializerMethodField()

    class Meta:
        model = Course
        fields = [
            "id",
            "patient",
            "protocol",
            "location",
            "planned_sessions",
            "sessions_done",
            "maintenance_sessions_done",
            "next_window_start",
            "next_window_end",
            "status",
            "next_maintenance_earliest",
            "next_maintenance_latest",
            "cancelled_at",
            "cancel_reason",
            "notes",
            "sessions",
            "created_at",
            "updated_at",
        ]

    def get_sessions_done(self, course: Course) -> int:
        return _followup(course).sessions_done

    def get_maintenance_sessions_done(self, course: Course) -> int:
        return _followup(course).maintenance_done

    @extend_schema_field(serializers.DateField(allow_null=True))
    def get_next_window_start(self, course: Course) -> date | None:
        return _followup(course).window_start

    @extend_schema_field(serializers.DateField(allow_null=True))
    def get_next_window_end(self, course: Course) -> date | None:
        return _followup(course).window_end

    def get_sessions(self, course: Course) -> list[str]:
        """Ids of the course's sessions, oldest first."""
        return [str(s.pk) for s in rows_of(course, "sessions")]


def _followup(course: Course) -> Any:
    """followup_of(course), worked out once per row for the four fields that show it."""
    known = course.__dict__.get("_followup_shown")
    if known is None:
        known = course.__dict__["_followup_shown"] = followup_of(course)
    return known


class CourseCreateInputSerializer(StrictInputMixin, serializers.Serializer):
    patient = serializers.PrimaryKeyRelatedField(queryset=Patient.objects.all())
    protocol = serializers.PrimaryKeyRelatedField(queryset=Protocol.objects.all())
    location = serializers.PrimaryKeyRelatedField(queryset=Location.objects.all())
    planned_sessions = serializers.IntegerField(
        required=False, min_value=1, max_value=50, help_text="Defaults to the protocol's default."
    )
    notes = serializers.CharField(required=False, allow_blank=True, max_length=10_000)


class CourseCancelInputSerializer(StrictInputMixin, serializers.Serializer):
    reason = serializers.CharField(max_length=2_000)


# --- sessions ---------------------------------------------------------------------


class ProductUseOutputSerializer(FastRepresentationMixin, serializers.ModelSerializer):
    lot_number = serializers.CharField(source="lot.lot_number", read_only=True)
    product = serializers.UUIDField(source="lot.product_id", read_only=True)
    product_name = serializers.CharField(source="lot.product.name", read_only=True)

    class Meta:
        model = SessionProductUse
        fields = ["lot", "lot_number", "product", "product_name", "quantity"]


class RuleOverrideOutputSerializer(FastRepresentationMixin, serializers.ModelSerializer[RuleOverride]):
    """A rule set aside for a session. The reason is clinical: null without access to the clinical record."""

    reason = serializers.CharField(read_only=True, allow_null=True)
    rule_message = serializers.CharField(read_only=True, allow_null=True)

    class Meta:
        model = RuleOverride
        fields = ["rule", "reason", "practitioner", "rule_message", "created_at"]


class SessionOutputSerializer(FastRepresentationMixin, serializers.ModelSerializer):
    patient = serializers.UUIDField(source="course.patient_id", read_only=True)
    protocol = serializers.UUIDField(source="course.protocol_id", read_only=True)
    fhir_status = serializers.CharField(
        read_only=True,
        help_text="FHIR Appointment.status: booked, arrived (checked in), fulfilled, cancelled or noshow.",
    )
    product_uses = ProductUseOutputSerializer(many=True, read_only=True)
    overrides = RuleOverrideOutputSerializer(many=True, read_only=True)
    notes = serializers.CharField(
        read_only=True, allow_null=True, help_text="Null unless you treat the patient or are a clinical admin."
    )
    treated_areas = serializers.ListField(
        child=serializers.ChoiceField(choices=TreatedArea.choices),
        read_only=True,
        allow_null=True,
        help_text="Null unless you treat the patient or are a clinical admin.",
    )
    treatment_consent_needed = serializers.SerializerMethodField(
        help_text="The patient has not consented to the protocol's current form: the session can be booked, "
        "not completed."
    )

    class Meta:
        model = Session
        fields = [
            "id",
            "course",
            "patient",
            "protocol",
            "kind",
            "practitioner",
            "room",
            "location",
            "starts_at",
            "ends_at",
            "status",
            "fhir_status",
            "booked_late",
            "treatment_consent_needed",
            "completed_at",
            "notes",
            "treated_areas",
            "product_uses",
            "overrides",
            "cancelled_at",
            "cancel_reason",
            "cancel_note",
            "no_show_at",
            "arrived_at",
            "treatment_started_at",
            "confirmed_at",
            "sequence",
            "created_at",
            "updated_at",
        ]

    def get_treatment_consent_needed(self, session: Session) -> bool:
        if session.status != SessionStatus.BOOKED:
            return False
        return not getattr(session, "treatment_consent_in_force", True)

    def to_representation(self, session: Session) -> dict[str, Any]:
        data = super().to_representation(session)
        if not response_clinical_access(self).covers(session.course.patient_id):
            # The clinical record is for the treating practitioners and clinical
            # admins; the front desk and integrations see null.
            data["notes"] = None
            data["treated_areas"] = None
            for override in data["overrides"]:
                override["reason"] = override["rule_message"] = None
        return data


class OverrideInputSerializer(StrictInputMixin, serializers.Serializer):
    rule = serializers.ChoiceField(choices=sorted(rules.OVERRIDABLE_RULES))
    reason = serializers.CharField(max_length=2_000)


class OverridableInputSerializer(StrictInputMixin, serializers.Serializer):
    overrides = OverrideInputSerializer(
        many=True,
        required=False,
        help_text="Rules the logged-in practitioner overrides, each with a reason, as their own decision. "
        "Anyone who is not a practitioner (the front desk, an API key) gets 403.",
    )


class SessionBookInputSerializer(OverridableInputSerializer):
    # The id only: the booking reads (and locks) the course itself, and refuses an id with no course.
    course = serializers.UUIDField()
    practitioner = serializers.PrimaryKeyRelatedField(queryset=Practitioner.objects.all())
    # With its location: the booking is judged there (opening hours, local dates).
    room = serializers.PrimaryKeyRelatedField(queryset=Room.objects.select_related("location"))
    starts_at = OffsetDateTimeField(help_text="ISO-8601 with an offset.")


class SessionRescheduleInputSerializer(OverridableInputSerializer):
    starts_at = OffsetDateTimeField(help_text="ISO-8601 with an offset.")
    practitioner = serializers.PrimaryKeyRelatedField(queryset=Practitioner.objects.all(), required=False)
    room = serializers.PrimaryKeyRelatedField(queryset=Room.objects.select_related("location"), required=False)


class SessionCancelInputSerializer(StrictInputMixin, serializers.Serializer):
    reason = serializers.ChoiceField(choices=CancelReason.choices, help_text="Cancellation reason code.")
    note = serializers.CharField(required=False, allow_blank=True, max_length=2_000)


class ProductUseInputSerializer(StrictInputMixin, serializers.Serializer):
    lot = serializers.PrimaryKeyRelatedField(queryset=ProductLot.objects.all())
    quantity = serializers.DecimalField(max_digits=8, decimal_places=2, min_value=Decimal("0.01"))


class SessionCompleteInputSerializer(StrictInputMixin, serializers.Serializer):
    notes = serializers.CharField(required=False, allow_blank=True, max_length=20_000)
    treated_areas = serializers.ListField(
        child=serializers.ChoiceField(choices=TreatedArea.choices), required=False, max_length=len(TreatedArea)
    )
    # many=True hands max_length to the ListSerializer; djangorestframework-stubs do not list it.
    product_uses = ProductUseInputSerializer(many=True, required=False, max_length=50)  # type: ignore[call-arg]
    completed_at = OffsetDateTimeField(required=False, help_text="Defaults to now.")


class NoFieldsInputSerializer(StrictInputMixin, serializers.Serializer):
    """The body of an action that takes no fields (no-show, check-in, start of treatment): {} or nothing."""


# --- availability ---------------------------------------------------------------


class AvailabilityQuerySerializer(serializers.Serializer):
    practitioner = serializers.PrimaryKeyRelatedField(queryset=Practitioner.objects.all())
    location = serializers.PrimaryKeyRelatedField(queryset=Location.objects.all())
    protocol = serializers.PrimaryKeyRelatedField(queryset=Protocol.objects.all())
    date_from = serializers.DateField(help_text="First day (the location's local date), ISO-8601.")
    date_to = serializers.DateField(
        help_text=f"Last day, included: at most {MAX_AVAILABILITY_DAYS} days at a time (else 400)."
    )
    step_minutes = serializers.IntegerField(required=False, min_value=5, max_value=240, default=15)


class SlotSerializer(FastRepresentationMixin, serializers.Serializer):
    starts_at = serializers.DateTimeField()
    ends_at = serializers.DateTimeField()
    room_ids = serializers.ListField(child=serializers.UUIDField())


# --- products and lots ----------------------------------------------------------


class ProductSerializer(StrictInputMixin, FastRepresentationMixin, serializers.ModelSerializer):
    class Meta:
        model = Product
        fields = ["id", "name", "kind", "manufacturer", "unit", "is_active", "created_at", "updated_at"]
        read_only_fields = ["id", "created_at", "updated_at"]


class ProductLotSerializer(StrictInputMixin, FastRepresentationMixin, serializers.ModelSerializer):
    class Meta:
        model = ProductLot
        fields = ["id", "product", "lot_number", "expires_on", "received_on", "created_at", "updated_at"]
        read_only_fields = ["id", "created_at", "updated_at"]


class LotRecipientSerializer(FastRepresentationMixin, serializers.ModelSerializer):
    """One use of a lot: who received it, when, and from whom."""

    patient = serializers.UUIDField(source="session.course.patient_id")
    patient_name = serializers.CharField(source="session.course.patient.full_name")
    session_starts_at = serializers.DateTimeField(source="session.starts_at")
    completed_at = serializers.DateTimeField(source="session.completed_at")
    practitioner = serializers.UUIDField(source="session.practitioner_id")

    class Meta:
        model = SessionProductUse
        fields = ["session", "patient", "patient_name", "session_starts_at", "completed_at", "practitioner", "quantity"]


# --- practitioners' decisions ahead of booking -------------------------------------------


class MedicalClearanceOutputSerializer(FastRepresentationMixin, serializers.ModelSerializer[MedicalClearance]):
    """A practitioner's medical review. The reviewed flags and the reason are clinical fields."""

    flags_reviewed = serializers.ListField(child=serializers.CharField(), read_only=True, allow_null=True)
    reason = serializers.CharField(read_only=True, allow_null=True)

    class Meta:
        model = MedicalClearance
        fields = [
            "id",
            "patient",
            "course",
            "valid_until",
            "flags_reviewed",
            "reason",
            "practitioner",
            "created_at",
            "revoked_at",
        ]

    def to_representation(self, clearance: MedicalClearance) -> dict[str, Any]:
        data = super().to_representation(clearance)
        if not response_clinical_access(self).covers(clearance.patient_id):
            data["flags_reviewed"] = data["reason"] = None
        return data


class MedicalClearanceInputSerializer(StrictInputMixin, serializers.Serializer):
    patient = serializers.PrimaryKeyRelatedField(queryset=Patient.objects.all())
    course = serializers.PrimaryKeyRelatedField(
        queryset=Course.objects.all(), required=False, help_text="Clear the patient for this course…"
    )
    valid_until = serializers.DateField(required=False, help_text="…or until this date (at the clinic).")
    reason = serializers.CharField(max_length=2_000, help_text="What was reviewed, and why treatment may go ahead.")


class CourseOverrideOutputSerializer(FastRepresentationMixin, serializers.ModelSerializer[CourseOverride]):
    reason = serializers.CharField(read_only=True, allow_null=True)

    class Meta:
        model = CourseOverride
        fields = ["id", "course", "rule", "reason", "practitioner", "created_at", "used_by"]

    def to_representation(self, override: CourseOverride) -> dict[str, Any]:
        data = super().to_representation(override)
        if not response_clinical_access(self).covers(override.course.patient_id):
            data["reason"] = None
        return data


class CourseOverrideInputSerializer(StrictInputMixin, serializers.Serializer):
    rule = serializers.ChoiceField(choices=sorted([rules.Rule.SPACING, rules.Rule.CONFLICT]))
    reason = serializers.CharField(max_length=2_000)
