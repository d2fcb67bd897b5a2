"""The services every request may depend on (PostgreSQL, Redis), and the errors that say one is not answering.

PostgreSQL restarting, failing over or refusing connections raises the DB-API's
`OperationalError` or `InterfaceError` (Django wraps psycopg's), on connect or in
the middle of a query; Redis unreachable raises redis-py's `ConnectionError` or
`TimeoutError` (a Redis still loading its data after a restart answers
`BusyLoadingError`, a `ConnectionError`), or kombu's `OperationalError` when a
task cannot be published. None of these is the request's fault or a bug: the
same request will very likely succeed a few seconds later. (`OperationalError`
also covers a deadlock or a cancelled statement: retrying is right for those too.)
"""

from __future__ import annotations

import kombu.exceptions
import redis.exceptions
from django import db

DATABASE = "PostgreSQL"
REDIS = "Redis"

_DATABASE_ERRORS = (db.OperationalError, db.InterfaceError)
_REDIS_ERRORS = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError, kombu.exceptions.OperationalError)


def unavailable_service(exc: BaseException) -> str | None:
    """Return the name of the backing service `exc` says is unreachable, or None for any other error."""
    if isinstance(exc, _DATABASE_ERRORS):
        return DATABASE
    if isinstance(exc, _REDIS_ERRORS):
        return REDIS
    return None
