"""Locale formats for staff pages (settings.FORMAT_MODULE_PATH).

Django reads date and time formats from the active language's locale first
and from settings only when the locale has none. This package gives English
(`en`, and `en-gb`, which falls back to it) the formats in settings, so the
settings are what staff actually see and type.
"""
