"""Admin pages that hold clinical fields, and their history pages.

Clinical fields belong to the practitioners who treat the patient and to
clinical admins (clinic.access). An admin class lists its `clinical_fields`
and says whose patient an object is (`patient_id_of`); this mixin then keeps
those fields off the change page, the history list's "changes" and the
page of a past version for everyone else. The history is read only: a past
version is never saved back (that would bypass the services and their
rules), whatever the settings say.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse

from clinic.access import access_clinical_record
from patients.selectors import ClinicalAccess, clinical_access


class ClinicalRecordAdminMixin:
    """For a SimpleHistoryAdmin whose model holds clinical fields."""

    clinical_fields: Sequence[str] = ()

    def patient_id_of(self, obj: Any) -> Any:
        """The id of the patient whose clinical record `obj` belongs to."""
        raise NotImplementedError

    def clinical_access(self, request: HttpRequest) -> ClinicalAccess:
        """The user's clinical access, worked out once per request."""
        cached: ClinicalAccess | None = getattr(request, "_clinical_access", None)
        if cached is None:
            cached = clinical_access(request.user)
            request._clinical_access = cached  # type: ignore[attr-defined]
        return cached

    def shows_clinical(self, request: HttpRequest, obj: Any) -> bool:
        """Return True if this page may show `obj`'s clinical fields to the user.

        On an add page (no object yet), to anyone who may hold clinical
        records at all; the service then checks the patient chosen.
        """
        if obj is None or obj._state.adding:
            return access_clinical_record(request.user, treats_patient=True)
        return self.clinical_access(request).covers(self.patient_id_of(obj))

    def without_clinical(self, fieldsets: Any) -> Any:
        """`fieldsets` with the clinical fields taken out (and sections left empty dropped)."""
        kept = []
        for name, options in fieldsets:
            fields = [field for field in options.get("fields", ()) if field not in self.clinical_fields]
            if fields:
                kept.append((name, {**options, "fields": fields}))
        return kept

    def get_fieldsets(self, request: HttpRequest, obj: Any = None) -> Any:
        fieldsets = super().get_fieldsets(request, obj)  # type: ignore[misc]
        return fieldsets if self.shows_clinical(request, obj) else self.without_clinical(fieldsets)

    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any) -> Any:
        form_class = super().get_form(request, obj, change, **kwargs)  # type: ignore[misc]
        if self.shows_clinical(request, obj):
            return form_class
        # Not even as hidden inputs, nor as empty values the save would act on:
        # the form must not carry what the page must not show.
        return form_without(form_class, self.clinical_fields)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        fields = super().get_readonly_fields(request, obj)  # type: ignore[misc]
        if self.shows_clinical(request, obj):
            return fields
        return [field for field in fields if field not in self.clinical_fields]

    def history_form_view(
        self, request: HttpRequest, object_id: str, version_id: str, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        if request.method == "POST":
            raise PermissionDenied("A past version is read, never restored: change the record through its page.")
        return super().history_form_view(request, object_id, version_id, extra_context)  # type: ignore[misc]

    def set_history_delta_changes(
        self, request: HttpRequest, historical_records: Any, foreign_keys_are_objs: bool = True
    ) -> None:
        if not historical_records:
            return
        # A past version's instance reads as unsaved: ask about its patient directly.
        if self.clinical_access(request).covers(self.patient_id_of(historical_records[0].instance)):
            super().set_history_delta_changes(request, historical_records, foreign_keys_are_objs)  # type: ignore[misc]
            return
        previous = None
        for current in historical_records:
            if previous is not None:
                delta = previous.diff_against(
                    current, excluded_fields=list(self.clinical_fields), foreign_keys_are_objs=foreign_keys_are_objs
                )
                helper = self.get_historical_record_context_helper(request, previous)  # type: ignore[attr-defined]
                previous.history_delta_changes = helper.context_for_delta_changes(delta)
            previous = current


def form_without(form_class: Any, fields: Sequence[str]) -> Any:
    """A subclass of the form class `form_class` without `fields` (model or declared ones alike)."""
    narrowed: Any = type(form_class.__name__, (form_class,), {})
    # Set after creation: the form metaclass rebuilds base_fields from the class body.
    narrowed.base_fields = {name: field for name, field in form_class.base_fields.items() if name not in fields}
    return narrowed
