"""How a patient reaches the clinic, and who emails come from: one definition for every message and page."""

from __future__ import annotations

from dataclasses import dataclass
from email.utils import formataddr

from django.conf import settings

from treatments.models import Location


@dataclass(frozen=True)
class ClinicContact:
    """A location's name, address, phone (as dialled at home, and as a tel: link), email, and its emails' From."""

    name: str
    address: str
    phone: str
    phone_link: str
    email: str
    from_email: str


def clinic_contact(location: Location | None) -> ClinicContact:
    """The location's contact details, falling back to the clinic's settings (CLINIC_NAME, CLINIC_PHONE).

    Emails come from the location's sender name (else its name) at its
    sender address (else DEFAULT_FROM_EMAIL).
    """
    fallback_link = f"tel:{settings.CLINIC_PHONE}" if settings.CLINIC_PHONE else ""
    if location is None:
        return ClinicContact(
            name=settings.CLINIC_NAME,
            address="",
            phone=settings.CLINIC_PHONE,
            phone_link=fallback_link,
            email="",
            from_email=settings.DEFAULT_FROM_EMAIL,
        )
    phone = location.phone
    sender = location.sender_name or location.name
    return ClinicContact(
        name=location.name,
        address=location.address,
        phone=phone.as_national if phone else settings.CLINIC_PHONE,
        phone_link=f"tel:{phone}" if phone else fallback_link,
        email=location.email,
        from_email=formataddr((sender, location.sender_email or settings.DEFAULT_FROM_EMAIL)),
    )
