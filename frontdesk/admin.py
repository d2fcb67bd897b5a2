"""Admin pages that show several apps at once.

Each app registers the pages of its own models, knowing nothing of the apps
above it. The patient and session pages also show what lies above them
(messages, side-effect reports) and the patient's data rights, so they are
completed here, the one layer that may see every app: the lower app's admin
class is extended and registered again in its place.
"""

from __future__ import annotations

import json
from typing import Any

from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from simple_history.admin import SimpleHistoryAdmin

from aftercare.admin import PatientMessageInline, SessionMessageInline, SideEffectReportInline
from clinic.admin_actions import apply_to_each
from clinic.admin_forms import ServiceAdminMixin, ServiceForm
from frontdesk import data_rights, services
from frontdesk.models import ContactAttempt
from patients.admin import PatientAdmin
from patients.models import Patient
from treatments.admin.sessions import SessionAdmin
from treatments.models import Course, CourseStatus, Session
from treatments.selectors import courses_needing_treatment_consent

admin.site.unregister(Patient)
admin.site.unregister(Session)


@admin.register(Patient)
class PatientCardAdmin(PatientAdmin):
    """The patient page, with their side-effect reports and messages, and their data rights."""

    inlines = [*PatientAdmin.inlines, SideEffectReportInline, PatientMessageInline]
    actions = ["export_selected", "erase_selected"]
    # A red banner while a red flag is open; a notice while a course lacks its treatment consent.
    change_form_template = "frontdesk/patient_change_form.html"

    def render_change_form(
        self,
        request: HttpRequest,
        context: dict[str, Any],
        add: bool = False,
        change: bool = False,
        form_url: str = "",
        obj: Any = None,
    ) -> HttpResponse:
        patient = context.get("original")
        if patient is not None:
            open_courses = Course.objects.filter(
                patient=patient, status__in=[CourseStatus.PLANNED, CourseStatus.ACTIVE, CourseStatus.MAINTENANCE]
            ).select_related("protocol")
            lacking = courses_needing_treatment_consent(course.pk for course in open_courses)
            context["consent_needed"] = [course for course in open_courses if course.pk in lacking]
        return super().render_change_form(request, context, add, change, form_url, obj)

    @admin.action(description="Export selected patients' data (JSON)", permissions=["export"])
    def export_selected(self, request: HttpRequest, queryset: QuerySet[Patient]) -> HttpResponse:
        documents = [data_rights.patient_export(patient=patient, actor=request.user) for patient in queryset]
        response = HttpResponse(json.dumps(documents, indent=2), content_type="application/json")
        response["Content-Disposition"] = 'attachment; filename="patient-export.json"'
        return response

    @admin.action(description="Erase selected patients' personal data", permissions=["erase"])
    def erase_selected(self, request: HttpRequest, queryset: QuerySet[Patient]) -> HttpResponse | None:
        if request.POST.get("confirmed") != "yes":
            # Erasure cannot be undone: show what will happen and ask first.
            return TemplateResponse(
                request,
                "frontdesk/erase_confirmation.html",
                {
                    **self.admin_site.each_context(request),
                    "title": "Erase personal data?",
                    "patients": queryset,
                    "opts": self.model._meta,
                    "action_checkbox_name": ACTION_CHECKBOX_NAME,
                },
            )
        apply_to_each(
            self,
            request,
            queryset,
            lambda patient: data_rights.patient_erase(patient=patient, actor=request.user),
            done="Erased the personal data of {count} patient(s).",
        )
        return None

    def has_export_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("patients.export_patient")

    def has_erase_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("patients.erase_patient")


@admin.register(Session)
class SessionWithMessagesAdmin(SessionAdmin):
    """The session page, with the messages the session caused."""

    inlines = [*SessionAdmin.inlines, SessionMessageInline]


class ContactAttemptForm(ServiceForm):
    class Meta:
        model = ContactAttempt
        fields = ["course", "outcome", "call_back_on", "note"]

    def perform(self, cleaned_data: dict[str, Any]) -> ContactAttempt:
        return services.contact_attempt_record(actor=self.actor, **cleaned_data)


@admin.register(ContactAttempt)
class ContactAttemptAdmin(ServiceAdminMixin, SimpleHistoryAdmin):
    """Calls about booking: recorded from the worklist's "Log a call", read afterwards."""

    form = ContactAttemptForm
    list_display = ["made_at", "course", "outcome", "call_back_on", "made_by_label"]
    list_filter = ["outcome", "made_at"]
    search_fields = ["course__patient__last_name", "course__patient__first_name", "note"]
    list_select_related = ["course__patient", "course__protocol"]
    autocomplete_fields = ["course"]

    def get_readonly_fields(self, request: HttpRequest, obj: ContactAttempt | None = None) -> list[str]:
        if obj is None:
            return []
        return ["course", "outcome", "call_back_on", "note", "made_by_label", "made_at"]

    def get_fields(self, request: HttpRequest, obj: ContactAttempt | None = None) -> Any:
        return ["course", "outcome", "call_back_on", "note"] if obj is None else self.get_readonly_fields(request, obj)

    def response_add(self, request: HttpRequest, obj: ContactAttempt, post_url_continue: str | None = None) -> Any:
        # Back to the worklist the call was made from.
        self.message_user(request, f"Logged: {obj.get_outcome_display()} ({obj.course.patient}).", messages.SUCCESS)
        return HttpResponseRedirect(reverse("frontdesk:worklist"))

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # a call happened; it is not edited

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
