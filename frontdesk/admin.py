"""Admin pages that show several apps at once.

Each app registers the pages of its own models, knowing nothing of the apps
above it. The patient and session pages also show what lies above them
(messages, side-effect reports) and the patient's data rights, so they are
completed here, the one layer that may see every app: the lower app's admin
class is extended and registered again in its place.
"""

from __future__ import annotations

import json

from django.contrib import admin
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse

from aftercare.admin import PatientMessageInline, SessionMessageInline, SideEffectReportInline
from clinic.admin_actions import apply_to_each
from frontdesk import data_rights
from patients.admin import PatientAdmin
from patients.models import Patient
from treatments.admin.sessions import SessionAdmin
from treatments.models import Session

admin.site.unregister(Patient)
admin.site.unregister(Session)


@admin.register(Patient)
class PatientCardAdmin(PatientAdmin):
    """The patient page, with their side-effect reports and messages, and their data rights."""

    inlines = [*PatientAdmin.inlines, SideEffectReportInline, PatientMessageInline]
    actions = ["export_selected", "erase_selected"]
    # A red banner while a red flag is open.
    change_form_template = "frontdesk/patient_change_form.html"

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
