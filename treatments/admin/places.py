"""Locations with their opening hours and rooms, and practitioners."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse

from clinic.admin_actions import apply_to_each
from treatments import services
from treatments.followup import followup_refresh_followed
from treatments.models import Location, OpeningHours, Practitioner, Room


class OpeningHoursInline(admin.TabularInline):
    model = OpeningHours
    extra = 0


class RoomInline(admin.TabularInline):
    model = Room
    extra = 0
    fields = ["name", "is_active"]


@admin.register(Location)
class LocationAdmin(admin.ModelAdmin):
    list_display = ["name", "time_zone", "phone", "email", "clinical_alert_email", "is_active"]
    list_filter = ["is_active"]
    search_fields = ["name", "address"]
    inlines = [OpeningHoursInline, RoomInline]

    def save_model(self, request: HttpRequest, obj: Location, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        if change and "time_zone" in form.changed_data:
            # Windows are the location's local dates (same transaction as the edit).
            followup_refresh_followed(obj.courses.all())


@admin.register(Room)
class RoomAdmin(admin.ModelAdmin):
    list_display = ["name", "location", "is_active"]
    list_filter = ["location", "is_active"]
    search_fields = ["name", "location__name"]
    list_select_related = ["location"]


@admin.register(Practitioner)
class PractitionerAdmin(admin.ModelAdmin):
    list_display = ["display_name", "user", "is_active"]
    list_filter = ["is_active", "locations"]
    search_fields = ["display_name", "user__username", "user__email"]
    filter_horizontal = ["locations"]
    autocomplete_fields = ["user"]
    list_select_related = ["user"]
    readonly_fields = ["calendar_feed"]
    actions = ["rotate_calendar_links"]

    @admin.display(description="calendar feed (subscribe in any calendar app)")
    def calendar_feed(self, practitioner: Practitioner) -> str:
        if practitioner._state.adding:
            return "—"
        return reverse("practitioner-calendar", args=[practitioner.calendar_token])

    @admin.action(description="Rotate calendar links (old links stop working)", permissions=["change"])
    def rotate_calendar_links(self, request: HttpRequest, queryset: QuerySet[Practitioner]) -> None:
        apply_to_each(
            self,
            request,
            queryset,
            lambda practitioner: services.practitioner_calendar_rotate(practitioner=practitioner),
            done="Rotated {count} calendar link(s).",
        )
