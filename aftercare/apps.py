from django.apps import AppConfig


class AftercareConfig(AppConfig):
    name = "aftercare"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from aftercare import checks, reactions  # noqa: F401 - checks registers the system checks
        from clinic import events
        from treatments.events import CourseCancelled, SessionChanged

        events.subscribe(SessionChanged, reactions.on_session_changed)
        events.subscribe(CourseCancelled, reactions.on_course_cancelled)
