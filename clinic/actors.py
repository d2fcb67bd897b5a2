"""Who did it. Services take an `actor`: a staff user, an API key's principal
(integrations.authentication.IntegrationUser), or None for the system itself
(beat, migrations). Every door passes the person or key it acts for."""

from __future__ import annotations

from typing import Any, TypeAlias

from django.contrib.auth.models import User

# A staff user, an IntegrationUser (an API key), or None (the system).
Actor: TypeAlias = Any

SYSTEM = "system"


def staff_user(actor: Any) -> User | None:
    """The actor as a user row to store in a foreign key, or None (system or integration)."""
    # User is settings.AUTH_USER_MODEL, what the foreign keys point to.
    if isinstance(actor, User) and actor.is_authenticated:
        return actor
    return None


def actor_label(actor: Any) -> str:
    """How the audit trail names `actor`: a username, `integration:<key name>`, or `system`."""
    if actor is None or not getattr(actor, "is_authenticated", False):
        return SYSTEM
    return str(actor.get_username())[:150]


def is_integration(actor: Any) -> bool:
    """Whether `actor` is booking software acting through an API key (authenticated, not a user row)."""
    return actor is not None and getattr(actor, "is_authenticated", False) and not isinstance(actor, User)
