"""Courses: started through the service, read with their sessions, cancelled by action."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from simple_history.admin import SimpleHistoryAdmin

from clinic.admin_actions import apply_to_each
from clinic.admin_forms import ServiceAdminMixin, ServiceForm
from treatments import services
from treatments.models import Course, Session


class CourseSessionInline(admin.TabularInline):
    """A course's sessions, read-only here: they are booked and changed on the Session page."""

    model = Session
    fields = ("starts_at", "kind", "status", "practitioner", "room", "booked_late", "completed_at")
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True
    ordering = ["starts_at"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Session]:
        # Each row is titled with its session's name: patient, local time at its location.
        return super().get_queryset(request).select_related("course__patient", "location", "practitioner", "room")

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class CourseAddForm(ServiceForm):
    planned_sessions = forms.IntegerField(
        required=False, min_value=1, help_text="Leave empty for the protocol's default number of sessions."
    )

    class Meta:
        model = Course
        fields = ["patient", "protocol", "location", "planned_sessions", "notes"]

    def perform(self, cleaned_data: dict[str, Any]) -> Course:
        return services.course_create(actor=self.actor, **cleaned_data)


@admin.register(Course)
class CourseAdmin(ServiceAdminMixin, SimpleHistoryAdmin):
    list_display = ["patient", "protocol", "status", "planned_sessions", "location", "next_maintenance_earliest"]
    list_filter = ["status", "protocol", "location", "created_at"]
    search_fields = ["patient__last_name", "patient__first_name", "patient__email"]
    list_select_related = ["patient", "protocol", "location"]
    autocomplete_fields = ["patient"]
    date_hierarchy = "created_at"
    inlines = [CourseSessionInline]
    actions = ["cancel_courses"]
    readonly_fields = [
        "patient",
        "protocol",
        "location",
        "planned_sessions",
        "status",
        "next_maintenance_earliest",
        "next_maintenance_latest",
        "cancelled_at",
        "cancel_reason",
        "created_at",
        "updated_at",
    ]

    def get_form(
        self, request: HttpRequest, obj: Course | None = None, change: bool = False, **kwargs: Any
    ) -> type[forms.ModelForm[Any]]:
        if obj is None:
            kwargs["form"] = CourseAddForm
        return super().get_form(request, obj, change=change, **kwargs)

    def get_readonly_fields(self, request: HttpRequest, obj: Course | None = None) -> list[str]:
        return self.readonly_fields if obj is not None else []

    def get_inlines(self, request: HttpRequest, obj: Course | None) -> list[type]:
        return self.inlines if obj is not None else []

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.action(description="Cancel selected courses (and their booked sessions)", permissions=["change"])
    def cancel_courses(self, request: HttpRequest, queryset: QuerySet[Course]) -> None:
        apply_to_each(
            self,
            request,
            queryset,
            lambda course: services.course_cancel(course=course, reason="Cancelled from the admin", actor=request.user),
            done="Cancelled {count} course(s).",
        )
