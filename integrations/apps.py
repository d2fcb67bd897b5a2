from django.apps import AppConfig


class IntegrationsConfig(AppConfig):
    name = "integrations"
    verbose_name = "Integrations (API keys, webhooks)"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from aftercare.events import FollowupDue, RedFlagRaised
        from clinic import events
        from integrations import (
            reactions,
            schema,  # noqa: F401 - registers the OpenAPI security scheme
        )
        from treatments.events import CourseCancelled, SessionChanged

        events.subscribe(SessionChanged, reactions.on_session_changed)
        events.subscribe(CourseCancelled, reactions.on_course_cancelled)
        events.subscribe(FollowupDue, reactions.on_followup_due)
        events.subscribe(RedFlagRaised, reactions.on_red_flag)
