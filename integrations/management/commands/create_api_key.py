from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from integrations.services import api_key_create


class Command(BaseCommand):
    help = "Create an API key for an integration and print it once."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--name", required=True, help="Who uses the key, e.g. 'Booking widget'.")
        parser.add_argument("--scopes", required=True, help="Comma-separated: read, book, manage.")

    def handle(self, *args: Any, **options: Any) -> None:
        scopes = [scope.strip() for scope in options["scopes"].split(",") if scope.strip()]
        try:
            api_key, raw_key = api_key_create(name=options["name"], scopes=scopes, actor=None)
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from exc
        self.stdout.write(f"Created API key {api_key.prefix} for {api_key.name} ({', '.join(api_key.scopes)}).")
        self.stdout.write("Store it now; it cannot be shown again:")
        self.stdout.write(raw_key)
