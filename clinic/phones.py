"""Phone numbers as people type them.

Numbers are stored in E.164 (+447400123456). People type them the way they
dial: "07400 123456" in the clinic's own country (PHONENUMBER_DEFAULT_REGION,
GB unless set), "+33 6 12 34 56 78" for anyone else. django-phonenumber-field
reads both at every door (admin forms, API serializers, a model's full_clean);
this module says so in help texts, with examples that are themselves valid,
and reads a search term however the number in it was typed.
"""

from __future__ import annotations

import re
from typing import Any

import phonenumbers
from django.conf import settings
from phonenumber_field.modelfields import PhoneNumberField
from phonenumber_field.phonenumber import PhoneNumber
from phonenumber_field.phonenumber import to_python as phone_to_python

# Characters a typed phone number may hold besides digits.
TYPED_NUMBER = re.compile(r"^\+?[\d\s().\-]+$")
# Fewer digits than this are not searched as a phone number: names, emails and
# a plain substring of the stored number already cover them.
MIN_SEARCH_DIGITS = 4


def phone_examples() -> tuple[str, str, str]:
    """A mobile number of the clinic's region: as dialled there, with its country code, and as stored.

    For GB: ("07400 123456", "+44 7400 123456", "+447400123456"). libphonenumber's
    example numbers are valid numbers, so a form's example is accepted as shown.
    """
    region = settings.PHONENUMBER_DEFAULT_REGION
    # A mobile number where the region has them (staff type those most), else any.
    mobile = phonenumbers.example_number_for_type(region, phonenumbers.PhoneNumberType.MOBILE)
    number = mobile or phonenumbers.example_number(region)
    if number is None:
        raise ValueError(f"libphonenumber has no example number for region {region!r}")
    return (
        phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL),
        phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL),
        phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164),
    )


def phone_help_text() -> str:
    """What a phone field says under it, with examples that validate as typed."""
    national, international, stored = phone_examples()
    return f"As you would dial it, e.g. {national}, or with the country code, e.g. {international}. Saved as {stored}."


def _parsed(text: str) -> phonenumbers.PhoneNumber | None:
    try:
        return phonenumbers.parse(text, settings.PHONENUMBER_DEFAULT_REGION)
    except phonenumbers.NumberParseException:
        return None


def typed_phone_e164(text: str) -> str | None:
    """The E.164 form of a whole, valid number typed in any format; None otherwise.

    "07400 123456", "+44 7400 123456", "7400123456" and "447400123456" (a "+"
    lost from a URL's query string) all give "+447400123456" when the region is GB.
    """
    text = text.strip()
    for candidate in (text, f"+{text}") if not text.startswith("+") else (text,):
        number = _parsed(candidate)
        if number is not None and phonenumbers.is_valid_number(number):
            return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    return None


def phone_search_fragment(term: str) -> str | None:
    """What `term` looks like inside a stored E.164 number; None if it is not (part of) a phone number.

    A whole number in any format becomes its E.164 form. Part of one becomes
    its digits: after a "+" as they stand ("+44 7400" → "+447400"), typed the
    national way without the trunk prefix ("07400 12" → "740012"), since E.164
    has no trunk prefix. Anything with letters or "@", or too few digits, is None.
    """
    text = term.strip()
    if not TYPED_NUMBER.match(text):
        return None
    whole = typed_phone_e164(text)
    if whole is not None:
        return whole
    digits = re.sub(r"\D", "", text)
    if text.startswith("+"):
        fragment = f"+{digits}"
    else:
        metadata = phonenumbers.PhoneMetadata.metadata_for_region(settings.PHONENUMBER_DEFAULT_REGION)
        trunk_prefix = metadata.national_prefix if metadata is not None else None
        fragment = digits[len(trunk_prefix) :] if trunk_prefix and digits.startswith(trunk_prefix) else digits
    return fragment if len(fragment.lstrip("+")) >= MIN_SEARCH_DIGITS else None


class StoredPhoneNumber(PhoneNumber):
    """A phone number read from the database, parsed the first time one of its parts is asked for.

    The column holds what PhoneNumberField wrote: the number in E.164 when it
    was valid, else the text as typed; either way that text is what str() of
    the parsed number gives, so str() needs no parsing. Parsing and checking a
    number costs about 0.2 ms: a page of 100 patients paid 20 ms for numbers it
    only printed. Anything else (is_valid, as_national, the country code,
    comparisons) parses the stored text as PhoneNumberField would, once.
    """

    _PARTS = frozenset(vars(phonenumbers.PhoneNumber()))

    def __init__(self, stored: str | None = None, **parts: Any) -> None:
        if stored is None:  # made by hand (phonenumber_field does, to compare): an ordinary number
            super().__init__(**parts)
        self.__dict__["_stored"] = stored  # else the parts come on first use (__getattr__)

    def _parse(self) -> None:
        parsed = phone_to_python(self.__dict__["_stored"])
        for part in StoredPhoneNumber._PARTS:
            self.__dict__[part] = getattr(parsed, part)

    def __getattr__(self, name: str) -> Any:  # only for attributes not set yet
        if name not in StoredPhoneNumber._PARTS or self.__dict__.get("_stored") is None:
            raise AttributeError(name)
        self._parse()
        return self.__dict__[name]

    def __setattr__(self, name: str, value: Any) -> None:
        if name in StoredPhoneNumber._PARTS and self.__dict__.get("_stored") is not None:
            self._parse()
            self.__dict__["_stored"] = None  # changed: from now on str() formats the parts
        super().__setattr__(name, value)

    def __str__(self) -> str:
        stored = self.__dict__.get("_stored")
        return super().__str__() if stored is None else str(stored)


class PhoneField(PhoneNumberField):
    """PhoneNumberField whose values from the database are StoredPhoneNumber: parsed when used, not when read."""

    def from_db_value(self, value: Any, expression: Any, connection: Any) -> Any:
        return StoredPhoneNumber(value) if value else value
