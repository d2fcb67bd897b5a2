from django.contrib import admin
from django.urls import path

from frontdesk import views

app_name = "frontdesk"

urlpatterns = [
    # admin_view: the admin's staff login, CSRF and never-cache rules, as for its own pages.
    path("worklist/", admin.site.admin_view(views.worklist_page), name="worklist"),
    path("worklist/<uuid:course_id>/book/", admin.site.admin_view(views.book_from_worklist), name="worklist-book"),
    path("patients/<uuid:patient_id>/", admin.site.admin_view(views.patient_card_page), name="patient-card"),
    path("sessions/<uuid:session_id>/cancel/", admin.site.admin_view(views.session_cancel_page), name="session-cancel"),
    path(
        "sessions/<uuid:session_id>/<str:action>/", admin.site.admin_view(views.session_action), name="session-action"
    ),
    path("patients/search/", admin.site.admin_view(views.patient_search), name="patient-search"),
    path("patients/<uuid:patient_id>/courses/", admin.site.admin_view(views.patient_courses), name="patient-courses"),
    path("calendar/check/", admin.site.admin_view(views.calendar_check_booking), name="calendar-check"),
    path("calendar/courses/", admin.site.admin_view(views.calendar_start_course), name="calendar-start-course"),
    path("calendar/book/", admin.site.admin_view(views.calendar_book), name="calendar-book"),
    path("today/", admin.site.admin_view(views.today_page), name="today"),
    path("calendar/", admin.site.admin_view(views.calendar_page), name="calendar"),
    path("calendar/events/", admin.site.admin_view(views.calendar_events), name="calendar-events"),
    path("calendar/sessions/<uuid:session_id>/move/", admin.site.admin_view(views.calendar_move), name="calendar-move"),
]
