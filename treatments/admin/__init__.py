"""The treatments admin, one module per concept; importing them registers the pages."""

from treatments.admin import courses, places, products, protocols, sessions  # noqa: F401
