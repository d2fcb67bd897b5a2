from django.urls import path

from treatments.calendar import calendar_feed

urlpatterns = [
    path("calendar/<str:token>.ics", calendar_feed, name="practitioner-calendar"),
]
