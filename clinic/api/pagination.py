from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.pagination import PageNumberPagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.utils.urls import remove_query_param, replace_query_param

TRUE_TEXTS = frozenset({"true", "1", "yes"})
FALSE_TEXTS = frozenset({"false", "0", "no"})
MAX_OFFSET = 2**53


class LazyRows(Sequence[Any]):
    """A list read from the database a slice at a time (the worklist): paged like a queryset, so a page
    reads `page_size + 1` rows and `len()` (a COUNT) runs only when the total is asked for."""


def _total(rows: Any) -> int:
    return rows.count() if isinstance(rows, QuerySet) else len(rows)


def _positive(name: str, text: str) -> int:
    """A query parameter that must be a whole number from 1 up: anything else is a 400 naming it."""
    try:
        number = int(text)
    except ValueError:
        number = 0
    if number < 1 or not text.strip().isdigit():
        raise ValidationError({name: [f"A whole number from 1 up, not {text!r}."]})
    return number


def _flag(request: Request, name: str) -> bool:
    text = request.query_params.get(name)
    if text is None:
        return False
    if text.lower() not in TRUE_TEXTS | FALSE_TEXTS:
        raise ValidationError({name: [f"true or false, not {text!r}."]})
    return text.lower() in TRUE_TEXTS


class PagePagination(PageNumberPagination):
    """`?page=N&page_size=M`, at most 200 rows a page; `count` only where it costs nothing, or when asked.

    A page reads `page_size + 1` rows: the extra row says whether there is a
    next page, so no COUNT over the whole (filtered) table is needed to page
    through it. `count` is the exact total when the page reaches the end of
    the list (it is then known for free) or when the client asks with
    `?count=true` (one COUNT query); otherwise it is null and `next` says
    whether more rows follow. A `LazyRows` list (the worklist) pages the same
    way; any other list computed in memory always has its count.
    """

    page_size_query_param = "page_size"
    max_page_size = 200
    count_query_param = "count"
    count_query_description = _(
        "true: give the total number of rows in `count` on every page (one more query). "
        "Without it, `count` is the total on the last page and null before it."
    )
    template = None  # no page controls in the browsable API: they need the page count
    total: int | None
    page_number: int
    has_next: bool

    def paginate_queryset(self, queryset: Any, request: Request, view: Any = None) -> list[Any] | None:
        if not isinstance(queryset, QuerySet) and not isinstance(queryset, LazyRows):
            listed: list[Any] | None = super().paginate_queryset(queryset, request, view)
            if listed is not None and self.page is not None:
                self.total = self.page.paginator.count
                self.page_number = self.page.number
                self.has_next = self.page.has_next()
            return listed
        self.request = request
        page_size = self.get_page_size(request)
        if not page_size:
            return None
        page_text = request.query_params.get(self.page_query_param) or "1"
        wants_count = _flag(request, self.count_query_param)
        self.total = None
        if page_text in self.last_page_strings:
            self.total = _total(queryset)
            page_number = max((self.total + page_size - 1) // page_size, 1)
        else:
            page_number = _positive(self.page_query_param, page_text)
        offset = (page_number - 1) * page_size
        if offset > MAX_OFFSET:  # far past any list's end, and past what PostgreSQL's OFFSET takes
            raise NotFound(self.invalid_page_message)
        rows = list(queryset[offset : offset + page_size + 1])
        self.has_next = len(rows) > page_size
        rows = rows[:page_size]
        if page_number > 1 and not rows:
            raise NotFound(self.invalid_page_message)
        if not self.has_next:
            self.total = offset + len(rows)
        elif self.total is None and wants_count:
            self.total = _total(queryset)
        self.page_number = page_number
        return rows

    def get_page_size(self, request: Request) -> int:
        """`page_size` as asked (at most `max_page_size`), or the default; anything but a whole number is a 400."""
        text = request.query_params.get(self.page_size_query_param)
        if text is None:
            return int(self.page_size or 0)
        return min(_positive(self.page_size_query_param, text), self.max_page_size)

    def get_paginated_response(self, data: Any) -> Response:
        return Response(
            {
                "count": self.total,
                "next": self.get_next_link(),
                "previous": self.get_previous_link(),
                "results": data,
            }
        )

    def get_next_link(self) -> str | None:
        if not self.has_next:
            return None
        return replace_query_param(self._url(), self.page_query_param, self.page_number + 1)

    def get_previous_link(self) -> str | None:
        if self.page_number <= 1:
            return None
        url = self._url()
        if self.page_number == 2:
            return remove_query_param(url, self.page_query_param)
        return replace_query_param(url, self.page_query_param, self.page_number - 1)

    def _url(self) -> str:
        if self.request is None:
            raise RuntimeError("Links are made for a request that paginate_queryset has seen.")
        return self.request.build_absolute_uri()

    def get_paginated_response_schema(self, schema: dict[str, Any]) -> dict[str, Any]:
        response = super().get_paginated_response_schema(schema)
        response["properties"]["count"] = {
            "type": "integer",
            "nullable": True,
            "example": 123,
            "description": "The total number of rows: on the last page, or on every page with `count=true`; "
            "null otherwise (`next` says whether more rows follow).",
        }
        return response

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        return [
            *super().get_schema_operation_parameters(view),
            {
                "name": self.count_query_param,
                "required": False,
                "in": "query",
                "description": str(self.count_query_description),
                "schema": {"type": "boolean"},
            },
        ]
