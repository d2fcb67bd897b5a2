import django_filters


class UpdatedSinceFilterSet(django_filters.FilterSet):
    """Base for list filters: `?updated_since=<ISO-8601>` for incremental sync.

    Rows changed at or after the given instant are returned, so a client that
    stores the newest `updated_at` it saw and asks again from there misses
    nothing (it may see that row twice, which is harmless).
    """

    updated_since = django_filters.IsoDateTimeFilter(
        field_name="updated_at",
        lookup_expr="gte",
        help_text="Only rows changed at or after this ISO-8601 instant (e.g. 2026-11-01T09:00:00+00:00).",
    )
