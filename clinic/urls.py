"""The project's URLs: each app's own, included by name (the project imports no app code)."""

from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerSplitView

from clinic.api.views import api_not_found
from clinic.health import healthz

api_v1 = [
    path("", include("patients.api.urls")),
    path("", include("treatments.api.urls")),
    path("", include("aftercare.api.urls")),
    path("", include("frontdesk.api.urls")),
]

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("admin/", admin.site.urls),
    path("frontdesk/", include("frontdesk.urls")),
    path("", include("treatments.urls")),
    # Patients' pages and the SMS provider's webhook (no staff login: signed links, signed requests).
    path("", include("aftercare.urls")),
    path("api/v1/", include(api_v1)),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    # The split view serves its start-up script as a file: the CSP allows no inline script.
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="schema"), name="api-docs"),
    path("api/redoc/", SpectacularRedocView.as_view(url_name="schema"), name="api-redoc"),
    # Anything else under /api/ answers JSON, not Django's HTML 404 page.
    path("api/<path:rest>", api_not_found),
]

# An uncaught exception: 503 when PostgreSQL or Redis is down (clinic.outages), JSON under /api/.
handler500 = "clinic.outages.server_error"

admin.site.site_header = "Clinic administration"
admin.site.site_title = "Clinic admin"
admin.site.index_title = "Clinic"
