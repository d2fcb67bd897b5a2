"""The treatments admin, one module per concept; importing them registers the pages."""

from treatments.admin import courses, decisions, places, products, protocols, sessions  # noqa: F401
