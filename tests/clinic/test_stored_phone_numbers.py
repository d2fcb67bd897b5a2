"""Phone numbers read from the database are parsed when used, not when read (clinic.phones.PhoneField).

A page of 100 patients printed 100 numbers and paid ~0.2 ms for parsing and checking each. A number read
back now shows its stored text as it is, and parses (once) only when asked for anything else.
"""

from __future__ import annotations

import copy
import pickle

import phonenumbers
import pytest
from phonenumber_field.phonenumber import PhoneNumber

from clinic.phones import StoredPhoneNumber
from patients.models import Patient
from tests.factories import LocationFactory, PatientFactory
from treatments.models import Location

pytestmark = pytest.mark.django_db


def test_a_number_read_back_shows_its_stored_text_without_parsing(monkeypatch) -> None:
    PatientFactory(phone="07400 123456")
    parses: list[str] = []
    real_parse = phonenumbers.parse

    def counted_parse(number: str, *args: object, **kwargs: object) -> object:
        parses.append(number)
        return real_parse(number, *args, **kwargs)

    monkeypatch.setattr(phonenumbers, "parse", counted_parse)

    phone = Patient.objects.get().phone

    assert isinstance(phone, StoredPhoneNumber)
    assert str(phone) == "+447400123456"
    assert parses == []
    # Anything else parses, once, as phonenumber_field would have.
    assert phone.is_valid() and phone.as_national == "07400 123456" and phone.country_code == 44
    assert len(parses) == 1
    assert phone.national_number == 7400123456
    assert len(parses) == 1


def test_a_number_read_back_equals_and_hashes_as_the_parsed_number() -> None:
    PatientFactory(phone="+33 6 12 34 56 78")
    phone = Patient.objects.get().phone

    assert phone == PhoneNumber.from_string("+33612345678")
    assert phone == "+33612345678"
    assert hash(phone) == hash(PhoneNumber.from_string("+33612345678"))
    assert Patient.objects.filter(phone=phone).count() == 1
    assert pickle.loads(pickle.dumps(phone)) == phone  # noqa: S301 - our own value (the cache pickles models)
    assert copy.deepcopy(phone).as_e164 == "+33612345678"


def test_a_stored_text_that_is_not_a_valid_number_reads_back_as_it_was_written() -> None:
    patient = PatientFactory()
    Patient.objects.filter(pk=patient.pk).update(phone="12")  # written before numbers were checked

    phone = Patient.objects.get().phone

    assert str(phone) == "12"
    assert not phone.is_valid()
    assert repr(phone) == "InvalidStoredPhoneNumber(raw_input=12)"


def test_a_number_changed_in_hand_shows_its_new_parts() -> None:
    PatientFactory(phone="+447400123456")
    phone = Patient.objects.get().phone

    phone.merge_from(PhoneNumber.from_string("+33612345678"))

    assert str(phone) == "+33612345678"
    assert phone.country_code == 33


def test_no_number_reads_back_as_blank_and_a_location_number_is_read_the_same_way() -> None:
    PatientFactory(phone="")
    LocationFactory(phone="+442071234567")

    assert Patient.objects.get().phone == ""
    assert isinstance(Location.objects.get().phone, StoredPhoneNumber)
    assert str(Location.objects.get().phone) == "+442071234567"
