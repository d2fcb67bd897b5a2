from django.apps import AppConfig


class FrontdeskConfig(AppConfig):
    """The front desk's use cases, which cross apps: the follow-up worklist and patients' data rights."""

    name = "frontdesk"
    verbose_name = "Front desk"
    default_auto_field = "django.db.models.BigAutoField"
