"""Reverse relations read for a page of rows, left as plain lists.

`prefetch_related("overrides")` leaves, on every row, a queryset built for
that row (`instance.overrides.all()` then needs no query): Django clones a
query and its filters per row to make it, which for a page of 100 sessions
with two relations cost more than the queries themselves (~35 ms of a
60 ms request). `Prefetch(..., to_attr=...)` leaves a list instead, at no
cost per row. `listed()` is that Prefetch under one naming rule, and
`rows_of()` reads a relation's rows whichever way they came: listed,
prefetched, set in hand by a service (as prefetch_related leaves them), or
else read.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Prefetch, QuerySet


def listed_attr(relation: str) -> str:
    """The attribute `listed(relation)` leaves the rows on."""
    return f"{relation}_listed"


def listed(relation: str, queryset: QuerySet[Any] | None = None) -> Prefetch:
    """`Prefetch(relation, queryset)` leaving a list on each row (see rows_of), not a queryset per row."""
    return Prefetch(relation, queryset=queryset, to_attr=listed_attr(relation))


def rows_of(instance: Any, relation: str) -> Any:
    """The rows of `instance`'s reverse relation `relation`: read already if they were, else read now."""
    rows = instance.__dict__.get(listed_attr(relation))
    if rows is not None:
        return rows
    cached = getattr(instance, "_prefetched_objects_cache", {})
    return cached[relation] if relation in cached else getattr(instance, relation).all()
