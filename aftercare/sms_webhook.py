"""The SMS provider's door in: Twilio posts each text sent to the clinic's number here.

Set the number's "A message comes in" webhook in Twilio's console to
`<SITE_URL>/sms/twilio/inbound/` (HTTP POST). Twilio signs each request with
the account's auth token (X-Twilio-Signature, HMAC-SHA1 over the URL it
called and the posted fields); the official library checks it. The URL it
called is the public one, built from SITE_URL and the request's path: behind
a proxy or load balancer this process may see another host or scheme, and
the signature covers what Twilio called, not what arrives here.

Nothing is written unless the signature holds: no auth token configured, no
signature or a wrong one is a 403 (JSON naming which). A signed post
without a sender (`From`) is a 400. Otherwise the text is stored and acted
on (aftercare.inbox) and the answer is empty TwiML: any reply to the patient
goes through the outbox like every other message, so it is recorded,
consent-checked and retried like them. No session or CSRF token: the
signature is the authentication.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.exceptions import SuspiciousOperation
from django.http import HttpRequest, HttpResponse
from django.http.multipartparser import MultiPartParserError
from django.views.decorators.csrf import csrf_exempt
from twilio.request_validator import RequestValidator

from aftercare.inbox import inbound_sms_receive
from clinic.api.responses import api_error

logger = logging.getLogger(__name__)

EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response/>'
SIGNATURE_HEADER = "X-Twilio-Signature"


def public_url(request: HttpRequest) -> str:
    """The URL Twilio called and signed: where the public reaches this site (SITE_URL), this path and query."""
    return settings.SITE_URL + request.get_full_path()


def _refused(status: int, code: str, detail: str) -> HttpResponse:
    # The code only: the body may hold a patient's number and words.
    logger.warning("inbound SMS refused (%d %s)", status, code)
    return api_error(status, code, detail)


@csrf_exempt
def twilio_inbound_sms(request: HttpRequest) -> HttpResponse:
    """Verify Twilio's signature, store the text and act on it; answer empty TwiML."""
    if request.method != "POST":
        response = api_error(405, "method_not_allowed", "Twilio posts inbound texts here: POST only.")
        response["Allow"] = "POST"
        return response
    token = settings.TWILIO_AUTH_TOKEN
    if not token:
        return _refused(
            403, "signature_unverifiable", "TWILIO_AUTH_TOKEN is not set: an inbound text cannot be verified."
        )
    signature = request.headers.get(SIGNATURE_HEADER, "")
    if not signature:
        return _refused(403, "signature_missing", f"The request has no {SIGNATURE_HEADER} header.")
    try:
        fields = request.POST
    except (SuspiciousOperation, MultiPartParserError):  # too big, too many fields, a broken multipart body
        return _refused(400, "malformed_body", "The body is not a form Twilio would post.")
    if not RequestValidator(token).validate(public_url(request), fields, signature):
        return _refused(
            403,
            "signature_invalid",
            f"The {SIGNATURE_HEADER} does not match this request for SITE_URL {settings.SITE_URL}.",
        )
    sender = fields.get("From", "").strip()
    if not sender:
        return _refused(400, "from_missing", "The request names no sender (From).")
    inbound_sms_receive(
        from_number=sender,
        to_number=fields.get("To", ""),
        body=fields.get("Body", ""),
        provider_message_id=fields.get("MessageSid", "") or fields.get("SmsSid", ""),
    )
    return HttpResponse(EMPTY_TWIML, content_type="text/xml")
