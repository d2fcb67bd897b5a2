from django.urls import path
from rest_framework.routers import SimpleRouter

from frontdesk.api import views

router = SimpleRouter()
router.register("contact-attempts", views.ContactAttemptViewSet, basename="contact-attempt")

urlpatterns = [
    *router.urls,
    path("worklist/", views.WorklistView.as_view(), name="worklist"),
    path("patients/<uuid:pk>/export/", views.PatientExportView.as_view(), name="patient-export"),
    path("patients/<uuid:pk>/erase/", views.PatientEraseView.as_view(), name="patient-erase"),
]
