"""Admin actions that change each selected object through a service.

The admin's bulk actions must not `update()` rows behind the services'
backs; `apply_to_each` calls the service once per object, each in its own
transaction, so one refusal neither stops the others nor half-writes itself,
and reports refusals by object in the service's own words.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpRequest

from clinic.errors import DomainError


def apply_to_each(
    model_admin: admin.ModelAdmin,
    request: HttpRequest,
    objects: Iterable[Any],
    change: Callable[[Any], object],
    *,
    done: str,
) -> int:
    """Call `change(obj)` for each object; flash each refusal, then `done` (formatted with `count`) if any
    succeeded. Return how many succeeded."""
    count = 0
    for obj in objects:
        try:
            with transaction.atomic():
                change(obj)
        except DomainError as error:
            model_admin.message_user(request, f"{obj}: {error.message}", messages.ERROR)
        except ValidationError as error:
            model_admin.message_user(request, f"{obj}: {' '.join(error.messages)}", messages.ERROR)
        else:
            count += 1
    if count:
        model_admin.message_user(request, done.format(count=count), messages.SUCCESS)
    return count
