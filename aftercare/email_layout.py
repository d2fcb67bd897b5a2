"""An email to a patient as it leaves: the message's words in the clinic's layout, as HTML and plain text.

The outbox row holds the words (rendered from the template when the row was
written); this adds what every email to a patient carries: who it is from
(the location's sender name and address), a button to the patient's page for
the session, a footer with the clinic's address, phone and email, and a
one-click way to stop these messages (the List-Unsubscribe headers of RFC
2369 and RFC 8058, and a link in the footer). The HTML and the text are
Django templates (aftercare/templates/aftercare/email/), in the patient's
language.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.template.loader import render_to_string
from django.utils import translation

from aftercare.contact import ClinicContact
from aftercare.page_links import unsubscribe_url
from aftercare.rendering import locale_of
from aftercare.text_html import text_to_html


@dataclass(frozen=True)
class PatientEmail:
    text: str
    html: str
    headers: dict[str, str]


def patient_email(
    *,
    subject: str,
    body: str,
    page_url: str,
    patient_id: Any,
    language: str,
    sender: ClinicContact,
    about_appointment: bool = False,
) -> PatientEmail:
    """The text and HTML parts, and the unsubscribe headers, of an email to a patient."""
    unsubscribe = unsubscribe_url(patient_id)
    with translation.override(locale_of(language)):
        context = {
            "subject": subject,
            "body": body,
            "body_html": text_to_html(body),
            "page_url": page_url,
            "sender": sender,
            "unsubscribe_url": unsubscribe,
            # A booking notice or a reminder links to the appointment's page; the rest, to the aftercare.
            "about_appointment": about_appointment,
        }
        text = render_to_string("aftercare/email/patient.txt", context).strip() + "\n"
        html = render_to_string("aftercare/email/patient.html", context)
    return PatientEmail(
        text=text,
        html=html,
        headers={"List-Unsubscribe": f"<{unsubscribe}>", "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"},
    )
