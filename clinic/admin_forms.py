"""Admin forms that write through services.

The admin is one of three doors (with the API and tasks), so it must not
save models itself: a `ServiceForm` calls the service from `clean()`, shows
domain errors on the form (the rule's own sentence, on the field it names),
and hands the service's result to the admin as the saved object.

Calling the service from `clean()` keeps one transaction: the admin's change
view is atomic, so nothing is half-written if a later step fails, and a
refusal is a form error instead of a 500. The service runs only once the
page's inline formsets are valid too (ServiceAdminMixin hands them to the
form): a page that will be shown again with errors must not have written.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from django import forms
from django.contrib import admin
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import models, transaction
from django.forms.formsets import BaseFormSet, all_valid
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.utils.http import url_has_allowed_host_and_scheme

from clinic.errors import DomainError
from clinic.local_time import local_datetime_text


def domain_error_as_validation_error(error: DomainError, form: forms.BaseForm) -> ValidationError:
    field = error.field if error.field in form.fields else NON_FIELD_ERRORS
    message = error.message
    earliest = error.details.get("earliest_start")
    if earliest is not None:
        message += f" Earliest allowed start: {local_datetime_text(earliest, earliest.tzinfo)}."
    return ValidationError({field: message})


class ServiceForm(forms.ModelForm):
    """A ModelForm whose `clean()` runs `perform()` (a service call) inside a savepoint.

    `actor` (who the service acts for) and `page_formsets` (the inline
    formsets of the same page) are set per request by ServiceAdminMixin.
    """

    actor: Any = None
    page_formsets: list[BaseFormSet] = []

    def perform(self, cleaned_data: dict[str, Any]) -> models.Model:
        raise NotImplementedError

    def _post_clean(self) -> None:
        # Model validation of a half-built instance would duplicate (and
        # sometimes contradict) the service's own checks; the service decides.
        pass

    def clean(self) -> dict[str, Any]:
        super().clean()
        cleaned = self.cleaned_data
        # all_valid() also collects the formsets' errors, which the page then shows.
        if self.errors or not all_valid(self.page_formsets):
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


if TYPE_CHECKING:
    # What the mixin's super() calls reach: the ModelAdmin it is mixed into.
    _ModelAdminBase = admin.ModelAdmin[Any]
else:
    _ModelAdminBase = object


class ServiceAdminMixin(_ModelAdminBase):
    """For a ModelAdmin whose forms may be ServiceForms: give each its actor and the page's inline formsets.

    A new form class per request, so the acting user never leaks between requests.
    """

    def get_form(
        self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any
    ) -> type[forms.ModelForm[Any]]:
        form_class = super().get_form(request, obj, change=change, **kwargs)
        if not issubclass(form_class, ServiceForm):
            return form_class
        # The admin builds the page's formsets right after the form that uses them;
        # get_formsets_with_inlines() fills this list as it does. The request
        # carries it between the two calls (an attribute HttpRequest does not declare).
        page_formsets: list[BaseFormSet] = []
        request._service_page_formsets = page_formsets  # type: ignore[attr-defined]
        return type(form_class.__name__, (form_class,), {"actor": request.user, "page_formsets": page_formsets})

    def save_model(self, request: HttpRequest, obj: Any, form: forms.ModelForm, change: bool) -> None:
        if isinstance(form, ServiceForm):
            return  # the service saved it, in the form's clean(); saving again would bypass it
        super().save_model(request, obj, form, change)

    def save_related(self, request: HttpRequest, form: forms.ModelForm, formsets: Any, change: bool) -> None:
        # On an add page the service made the object after the formsets were built
        # around an unsaved one: point them at what was saved.
        for formset in formsets:
            if hasattr(formset, "fk"):
                formset.instance = form.instance
        super().save_related(request, form, formsets, change)

    def response_add(self, request: HttpRequest, obj: Any, post_url_continue: str | None = None) -> HttpResponse:
        """Back where the user came from (?next=, e.g. the patient card or the worklist), unless they asked to
        go on editing or add another."""
        return self._back_or(request, super().response_add(request, obj, post_url_continue))

    def response_change(self, request: HttpRequest, obj: Any) -> HttpResponse:
        return self._back_or(request, super().response_change(request, obj))

    def _back_or(self, request: HttpRequest, response: HttpResponse) -> HttpResponse:
        target = came_from(request)
        if target and not any(key in request.POST for key in ("_continue", "_addanother", "_saveasnew")):
            return HttpResponseRedirect(target)
        return response

    def get_formsets_with_inlines(self, request: HttpRequest, obj: Any = None) -> Iterator[Any]:
        page_formsets = getattr(request, "_service_page_formsets", None)
        for formset_class, inline in super().get_formsets_with_inlines(request, obj):
            if page_formsets is not None:
                formset_class = _registered(formset_class, page_formsets)
            yield formset_class, inline


def _registered(formset_class: type[BaseFormSet], page_formsets: list[BaseFormSet]) -> type[BaseFormSet]:
    """`formset_class`, whose instances add themselves to `page_formsets`."""

    def __init__(self: BaseFormSet, *args: Any, **kwargs: Any) -> None:
        formset_class.__init__(self, *args, **kwargs)
        page_formsets.append(self)

    return type(formset_class.__name__, (formset_class,), {"__init__": __init__})


def came_from(request: HttpRequest) -> str | None:
    """The page to go back to after an action (?next=, or a form's `next`), if it is one of this site's."""
    target = request.POST.get("next") or request.GET.get("next")
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}, require_https=False):
        return target
    return None
