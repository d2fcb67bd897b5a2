"""Who did it. Services take an `actor`: a staff user, an API key's principal
(integrations.authentication.IntegrationUser), or None for the system itself
(beat, migrations). Every door passes the person or key it acts for."""

from __future__ import annotations

from typing import Any, TypeAlias

from django.contrib.auth.base_user import AbstractBaseUser

# A staff user, an IntegrationUser (an API key), or None (the system).
Actor: TypeAlias = Any

SYSTEM = "system"


def staff_user(actor: Any) -> AbstractBaseUser | None:
    """The actor as a user row to store in a foreign key, or None (system or integration)."""
    if isinstance(actor, AbstractBaseUser) and actor.is_authenticated:
        return actor
    return None


def actor_label(actor: Any) -> str:
    """How the audit trail names `actor`: a username, `integration:<key name>`, or `system`."""
    if actor is None or not getattr(actor, "is_authenticated", False):
        return SYSTEM
    return str(actor.get_username())[:150]
