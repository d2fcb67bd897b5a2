from django.contrib import admin

from clinic.models import Heartbeat


@admin.register(Heartbeat)
class HeartbeatAdmin(admin.ModelAdmin):
    list_display = ["name", "last_seen_at", "hostname"]
    readonly_fields = ["name", "last_seen_at", "hostname"]

    def has_add_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False
