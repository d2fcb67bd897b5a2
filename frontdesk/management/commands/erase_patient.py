"""Erase a patient's personal data from the command line, on behalf of a named staff member.

For data-rights requests handled outside the admin. The audit trail records
the staff member given with --as, not "system".
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from clinic.errors import DomainError
from frontdesk.data_rights import patient_erase
from patients.models import Patient


class Command(BaseCommand):
    help = "Anonymise a patient (as the erase action does), on behalf of a staff member."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("patient_id", help="The patient's id (UUID).")
        parser.add_argument("--as", dest="username", required=True, help="The staff member who asked for it.")

    def handle(self, *args: Any, patient_id: str, username: str, **options: Any) -> None:
        user = get_user_model().objects.filter(username=username, is_active=True).first()
        if user is None:
            raise CommandError(f"No active user {username!r}.")
        if not user.has_perm("patients.erase_patient"):
            raise CommandError(f"{username} may not erase patients' data.")
        try:
            patient = Patient.objects.get(pk=patient_id)
        except (Patient.DoesNotExist, ValidationError):
            raise CommandError(f"No patient {patient_id}.") from None
        try:
            patient_erase(patient=patient, actor=user)
        except DomainError as error:
            raise CommandError(error.message) from None
        self.stdout.write(f"Erased the personal data of patient {patient_id}, on behalf of {username}.")
