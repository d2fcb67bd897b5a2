"""Query parameters an endpoint does not know are refused, like unknown body fields.

A client that misspells a filter (`?stauts=booked`) or asks for an ordering
the endpoint does not offer would otherwise get the whole unfiltered list
back, silently, and act on it. Every API view mixes in `StrictQueryParams`:
after authentication, any query parameter the operation does not document is
a 400 naming it.

What an operation knows is read from the same places its OpenAPI parameters
come from, so the two cannot drift: a list's paginator (`page`, `page_size`,
`count`), its filter backends (the filterset's fields, `search` where the view
has search fields, `ordering` where it has ordering fields), and for a plain
view its `query_serializer_class`. Other operations (retrieve, create, the
actions) take no query parameters.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.forms import MultiWidget
from django_filters.rest_framework import DjangoFilterBackend
from rest_framework.exceptions import ValidationError
from rest_framework.filters import OrderingFilter, SearchFilter
from rest_framework.request import Request
from rest_framework.settings import api_settings

# A blank search is no search; a blank ordering is the default order (what a search box or sort control sends).
BLANK_ALLOWED = frozenset({api_settings.SEARCH_PARAM, api_settings.ORDERING_PARAM})


class StrictOrderingFilter(OrderingFilter):
    """`?ordering=` with a field the endpoint does not sort by is a 400, not the default order in disguise."""

    def remove_invalid_fields(self, queryset: Any, fields: Iterable[str], view: Any, request: Request) -> list[str]:
        fields = list(fields)
        valid = [item[0] for item in self.get_valid_fields(queryset, view, {"request": request})]
        unknown = [term for term in fields if term.removeprefix("-") not in valid]
        if unknown:
            raise ValidationError(
                {
                    self.ordering_param: [
                        f"Cannot order by {', '.join(repr(term) for term in unknown)}. "
                        f"Order by one of: {', '.join(valid)} (prefix '-' for descending)."
                    ]
                }
            )
        return fields


def _filterset_params(backend: DjangoFilterBackend, view: Any) -> set[str]:
    queryset = getattr(view, "queryset", None)
    if queryset is None:
        queryset = view.get_queryset()
    filterset_class = backend.get_filterset_class(view, queryset)
    if filterset_class is None:
        return set()
    names: set[str] = set()
    for name, field in filterset_class(data={}, queryset=queryset.none()).form.fields.items():
        widget = field.widget
        if isinstance(widget, MultiWidget):
            suffixes = getattr(widget, "suffixes", None) or getattr(widget, "widgets_names", [])
            names.update(f"{name}{suffix}" if suffix.startswith("_") else f"{name}_{suffix}" for suffix in suffixes)
        else:
            names.add(name)
    return names


def known_query_params(view: Any) -> set[str]:
    """The query parameters `view`'s current operation reads (what its schema documents)."""
    known: set[str] = set()
    if api_settings.URL_FORMAT_OVERRIDE:
        known.add(api_settings.URL_FORMAT_OVERRIDE)  # `?format=json`, read by content negotiation
    query_serializer = getattr(view, "query_serializer_class", None)
    if query_serializer is not None:
        known.update(query_serializer().fields)
    action = getattr(view, "action", None)
    listing = (
        action == "list"
        or getattr(view, "paginated_action", False)
        or (action is None and view.request.method == "GET" and query_serializer is not None)
    )
    if not listing:
        return known
    paginator = getattr(view, "paginator", None) or (
        view.pagination_class() if getattr(view, "pagination_class", None) else None
    )
    if paginator is not None:
        known.update(
            name
            for name in (
                getattr(paginator, "page_query_param", None),
                getattr(paginator, "page_size_query_param", None),
                getattr(paginator, "count_query_param", None),
            )
            if name
        )
    if action == "list":
        for backend_class in getattr(view, "filter_backends", ()):
            backend = backend_class()
            if isinstance(backend, DjangoFilterBackend):
                known |= _filterset_params(backend, view)
            elif isinstance(backend, SearchFilter) and getattr(view, "search_fields", None):
                known.add(backend.search_param)
            elif isinstance(backend, OrderingFilter) and getattr(view, "ordering_fields", None):
                known.add(backend.ordering_param)
    return known


# What an operation reads depends on its view class, action and method only; building a filterset's form to
# find out cost ~2 ms a request, so each operation's set is worked out once per process.
_KNOWN: dict[tuple[Any, ...], frozenset[str]] = {}


def _known_for_operation(view: Any) -> frozenset[str]:
    key = (type(view), getattr(view, "action", None), view.request.method, api_settings.URL_FORMAT_OVERRIDE)
    known = _KNOWN.get(key)
    if known is None:
        known = _KNOWN[key] = frozenset(known_query_params(view))
    return known


class StrictQueryParams:
    """Mixin for API views: a query parameter the operation does not read is a 400 naming it.

    A viewset's extra action that returns a page says so: `@action(..., paginated_action=True)`.
    """

    paginated_action = False

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)  # type: ignore[misc]  # authentication and permissions first
        known = _known_for_operation(self)
        errors = {name: ["Unknown query parameter."] for name in sorted(set(request.query_params) - known)}
        # `?updated_since=` would otherwise read as "no filter": a client building its query wrong should hear so.
        errors |= {
            name: ["A value is required: leave the parameter out instead of sending it blank."]
            for name, values in request.query_params.lists()
            if name in known and name not in BLANK_ALLOWED and any(not value.strip() for value in values)
        }
        if errors:
            raise ValidationError(errors)
