from django.urls import path
from rest_framework.routers import SimpleRouter

from patients.api.views import PatientConsentViewSet, PatientViewSet

router = SimpleRouter()
router.register("patients", PatientViewSet, basename="patient")

consent_list = PatientConsentViewSet.as_view({"get": "list", "post": "create"})
consent_revoke = PatientConsentViewSet.as_view({"post": "revoke"})

urlpatterns = [
    *router.urls,
    path("patients/<uuid:patient_pk>/consents/", consent_list, name="patient-consent-list"),
    path("patients/<uuid:patient_pk>/consents/<uuid:pk>/revoke/", consent_revoke, name="patient-consent-revoke"),
]
