from django.contrib import admin

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
    list_display = ["name", "time_zone", "phone", "is_active"]
    list_filter = ["is_active"]
    search_fields = ["name", "address"]
    inlines = [OpeningHoursInline, RoomInline]


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
