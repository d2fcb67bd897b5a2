"""Admin forms that write through services.

The admin is one of three doors (with the API and tasks), so it must not
save models itself: a `ServiceForm` calls the service from `clean()`, shows
domain errors on the form (the rule's own sentence, on the field it names),
and hands the service's result to the admin as the saved object.

Calling the service from `clean()` keeps one transaction: the admin's change
view is atomic, so nothing is half-written if a later step fails, and a
refusal is a form error instead of a 500.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import models, transaction

from clinic.errors import DomainError


def domain_error_as_validation_error(error: DomainError, form: forms.BaseForm) -> ValidationError:
    field = error.field if error.field in form.fields else NON_FIELD_ERRORS
    message = error.message
    earliest = error.details.get("earliest_start")
    if earliest is not None:
        message += f" Earliest allowed start: {earliest:%Y-%m-%d %H:%M %Z}."
    return ValidationError({field: message})


class ServiceForm(forms.ModelForm):
    """A ModelForm whose `clean()` runs `perform()` (a service call) inside a savepoint."""

    def perform(self, cleaned_data: dict[str, Any]) -> models.Model:
        raise NotImplementedError

    def _post_clean(self) -> None:
        # Model validation of a half-built instance would duplicate (and
        # sometimes contradict) the service's own checks; the service decides.
        pass

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        if self.errors:
            return cleaned
        try:
            with transaction.atomic():
                self.instance = self.perform(cleaned)
        except DomainError as error:
            raise domain_error_as_validation_error(error, self) from error
        except ValidationError as error:
            raise self._on_form_fields(error) from error
        return cleaned

    def _on_form_fields(self, error: ValidationError) -> ValidationError:
        """Put a service's field errors on fields this form has, the rest on the form."""
        if not hasattr(error, "error_dict"):
            return error
        remapped: dict[str, list[str]] = {}
        for field, messages in error.message_dict.items():
            target = field if field in self.fields else NON_FIELD_ERRORS
            remapped.setdefault(target, []).extend(messages)
        return ValidationError(remapped)

    def save(self, commit: bool = True) -> models.Model:
        return self.instance

    def save_m2m(self) -> None:
        pass
