from django.contrib import admin
from django.http import HttpRequest

from clinic.models import Heartbeat


@admin.register(Heartbeat)
class HeartbeatAdmin(admin.ModelAdmin):
    list_display = ["name", "last_seen_at", "hostname"]
    readonly_fields = ["name", "last_seen_at", "hostname"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False
