from django.apps import AppConfig


class TreatmentsConfig(AppConfig):
    name = "treatments"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from patients.selectors import provide_treated_patient_ids
        from treatments.selectors import patient_ids_treated_by

        # Patients sit below treatments and cannot ask it who treats whom; tell them.
        provide_treated_patient_ids(patient_ids_treated_by)
