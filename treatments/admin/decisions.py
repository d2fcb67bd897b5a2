"""Practitioners' decisions ahead of booking: medical clearances, and rules set aside for a course.

Both are clinical decisions, recorded as the logged-in practitioner's own
(there is no practitioner to pick), and their reasons are clinical fields.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.http import HttpRequest
from simple_history.admin import SimpleHistoryAdmin

from clinic.admin_actions import apply_to_each
from clinic.admin_forms import ServiceAdminMixin, ServiceForm
from patients.admin_clinical import ClinicalRecordAdminMixin
from treatments import services
from treatments.models import CourseOverride, MedicalClearance


class MedicalClearanceForm(ServiceForm):
    class Meta:
        model = MedicalClearance
        fields = ["patient", "course", "valid_until", "reason"]
        help_texts = {
            "course": "Clear the patient for this course…",
            "valid_until": "…or until this date (not both).",
            "reason": "What you reviewed, and why treatment may go ahead. Recorded as your decision.",
        }

    def perform(self, cleaned_data: dict[str, Any]) -> MedicalClearance:
        return services.medical_clearance_record(actor=self.actor, **cleaned_data)


@admin.register(MedicalClearance)
class MedicalClearanceAdmin(ClinicalRecordAdminMixin, ServiceAdminMixin, SimpleHistoryAdmin):
    form = MedicalClearanceForm
    clinical_fields = ("reason", "flags_reviewed")
    list_display = ["patient", "course", "valid_until", "practitioner", "created_at", "revoked_at"]
    list_filter = [("revoked_at", admin.EmptyFieldListFilter)]
    search_fields = ["patient__last_name", "patient__first_name"]
    list_select_related = ["patient", "course__protocol", "practitioner"]
    autocomplete_fields = ["patient", "course"]
    actions = ["revoke_selected"]

    def patient_id_of(self, obj: MedicalClearance) -> Any:
        return obj.patient_id

    def get_readonly_fields(self, request: HttpRequest, obj: MedicalClearance | None = None) -> list[str]:
        if obj is None:
            return []
        fields = ["patient", "course", "valid_until", "flags_reviewed", "reason", "practitioner", "created_at"]
        fields.append("revoked_at")
        return fields if self.shows_clinical(request, obj) else [f for f in fields if f not in self.clinical_fields]

    def get_fields(self, request: HttpRequest, obj: MedicalClearance | None = None) -> Any:
        if obj is None:
            return ["patient", "course", "valid_until", "reason"]
        return self.get_readonly_fields(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.action(description="Withdraw selected clearances", permissions=["change"])
    def revoke_selected(self, request: HttpRequest, queryset: Any) -> None:
        apply_to_each(
            self,
            request,
            queryset.filter(revoked_at__isnull=True),
            lambda clearance: services.medical_clearance_revoke(clearance=clearance, actor=request.user),
            done="Withdrew {count} clearance(s).",
        )


class CourseOverrideForm(ServiceForm):
    rule = forms.ChoiceField(choices=[(rule.value, rule.value) for rule in sorted(services.ADVANCE_OVERRIDABLE_RULES)])

    class Meta:
        model = CourseOverride
        fields = ["course", "rule", "reason"]

    def perform(self, cleaned_data: dict[str, Any]) -> CourseOverride:
        return services.course_override_record(actor=self.actor, **cleaned_data)


@admin.register(CourseOverride)
class CourseOverrideAdmin(ClinicalRecordAdminMixin, ServiceAdminMixin, SimpleHistoryAdmin):
    """A rule set aside ahead for a course's next booking, used once."""

    form = CourseOverrideForm
    clinical_fields = ("reason",)
    list_display = ["course", "rule", "practitioner", "created_at", "used_by"]
    list_select_related = ["course__patient", "course__protocol", "practitioner", "used_by"]
    search_fields = ["course__patient__last_name", "course__patient__first_name"]
    autocomplete_fields = ["course"]

    def patient_id_of(self, obj: CourseOverride) -> Any:
        return obj.course.patient_id

    def get_readonly_fields(self, request: HttpRequest, obj: CourseOverride | None = None) -> list[str]:
        if obj is None:
            return []
        fields = ["course", "rule", "reason", "practitioner", "created_at", "used_by"]
        return fields if self.shows_clinical(request, obj) else [f for f in fields if f not in self.clinical_fields]

    def get_fields(self, request: HttpRequest, obj: CourseOverride | None = None) -> Any:
        if obj is None:
            return ["course", "rule", "reason"]
        return self.get_readonly_fields(request, obj)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # a decision is recorded, never edited

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
