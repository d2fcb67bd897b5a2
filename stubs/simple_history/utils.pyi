from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.db.models import Manager, Model

def bulk_update_with_history(
    objs: Iterable[Model],
    model: type[Model],
    fields: Iterable[str],
    batch_size: int | None = None,
    default_user: Any = None,
    default_change_reason: str | None = None,
    default_date: datetime | None = None,
    manager: Manager[Any] | None = None,
    custom_historical_attrs: dict[str, Any] | None = None,
) -> int: ...
