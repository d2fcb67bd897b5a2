"""Protocols and their conflict rules, and treatment categories."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from treatments.followup import followup_refresh_followed
from treatments.models import ConflictRule, Protocol, TreatmentCategory


@admin.register(TreatmentCategory)
class TreatmentCategoryAdmin(admin.ModelAdmin):
    list_display = ["name", "code"]
    search_fields = ["name", "code"]


class ConflictRuleInline(admin.TabularInline):
    model = ConflictRule
    extra = 0


@admin.register(Protocol)
class ProtocolAdmin(admin.ModelAdmin):
    list_display = ["name", "category", "min_sessions", "default_sessions", "max_sessions", "is_active"]
    list_filter = ["category", "is_active"]
    search_fields = ["name"]
    inlines = [ConflictRuleInline]
    fieldsets = [
        (None, {"fields": ["name", "category", "description", "is_active"]}),
        ("Course", {"fields": ["min_sessions", "default_sessions", "max_sessions", "session_duration_minutes"]}),
        ("Spacing (days)", {"fields": ["min_spacing_days", "max_spacing_days"]}),
        ("Maintenance (days)", {"fields": ["maintenance_min_days", "maintenance_max_days"]}),
    ]

    def save_model(self, request: HttpRequest, obj: Protocol, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        if change and {"min_spacing_days", "max_spacing_days"} & set(form.changed_data):
            # The open courses' next windows move with the spacing (same transaction as the edit).
            followup_refresh_followed(obj.courses.all())
