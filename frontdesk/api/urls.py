from django.urls import path

from frontdesk.api import views

urlpatterns = [
    path("worklist/", views.WorklistView.as_view(), name="worklist"),
    path("patients/<uuid:pk>/export/", views.PatientExportView.as_view(), name="patient-export"),
    path("patients/<uuid:pk>/erase/", views.PatientEraseView.as_view(), name="patient-erase"),
]
