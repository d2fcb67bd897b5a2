"""Helpers for posting admin change forms the way a browser does."""

from __future__ import annotations

from typing import Any


def inline_post_data(response: Any) -> dict[str, str]:
    """The inline formsets' hidden fields (management forms, row ids) from a GET of a change page."""
    data: dict[str, str] = {}
    for inline in response.context["inline_admin_formsets"]:
        formset = inline.formset
        for name, field in formset.management_form.fields.items():
            value = formset.management_form.initial.get(name, field.initial)
            data[f"{formset.prefix}-{name}"] = "" if value is None else str(value)
        for form in formset.initial_forms:
            data[f"{form.prefix}-{formset.fk.name}"] = str(formset.instance.pk)
            data[f"{form.prefix}-id"] = str(form.instance.pk)
    return data
