"""What a patient's text asks for, read from its words: a pure function, no database.

Two kinds of keyword, read differently on purpose:

- Carrier keywords (opt out, opt in, help) count only when they are the whole
  text, give or take case, spaces and punctuation ("stop", "STOP.", " Stop! ").
  That is how Twilio and the carriers read them: "STOP" blocks the number at
  Twilio, "STOP PLEASE" or "CANCEL my appointment" does not. Reading them the
  same way keeps the patient's consent in step with what the carrier does,
  and a sentence that merely starts with one ("Help, my cheek is swollen",
  "Cancel Tuesday please") reaches a person instead of an automatic answer.
  CANCEL is an opt-out keyword (Twilio's and the carriers' default list), so
  it never cancels an appointment.
- Appointment keywords (confirm, rebook) are read from the first word, so
  "C", "Confirmed, thanks!" and "R - can we do Friday?" all count. When more
  words follow, `has_more` says so: the system acts on the keyword and a
  person still reads the rest.

Anything else is `other`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from aftercare.models import InboundIntent

# Twilio's default opt-out and opt-in keywords (its "Advanced Opt-Out" lists the same).
OPT_OUT_KEYWORDS = frozenset({"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT"})
OPT_IN_KEYWORDS = frozenset({"START", "YES", "UNSTOP"})
HELP_KEYWORDS = frozenset({"HELP", "INFO"})
CONFIRM_KEYWORDS = frozenset({"C", "CONFIRM", "CONFIRMED"})
REBOOK_KEYWORDS = frozenset({"R", "REBOOK", "RESCHEDULE", "CHANGE"})

WHOLE_TEXT_KEYWORDS = {
    **dict.fromkeys(OPT_OUT_KEYWORDS, InboundIntent.OPT_OUT),
    **dict.fromkeys(OPT_IN_KEYWORDS, InboundIntent.OPT_IN),
    **dict.fromkeys(HELP_KEYWORDS, InboundIntent.HELP),
}
FIRST_WORD_KEYWORDS = {
    **dict.fromkeys(CONFIRM_KEYWORDS, InboundIntent.CONFIRM),
    **dict.fromkeys(REBOOK_KEYWORDS, InboundIntent.REBOOK_REQUEST),
}

# Punctuation and symbols around a word ("STOP.", "'C'", "(confirm)"); letters and digits of any script stay.
_AROUND_A_WORD = re.compile(r"^[\W_]+|[\W_]+$")


@dataclass(frozen=True)
class ReadText:
    intent: str  # an InboundIntent value
    keyword: str  # the keyword as read ("STOP"), "" for other
    has_more: bool  # words follow the keyword: a person should read them


def text_words(text: str) -> list[str]:
    """The words of `text`, upper-cased, without the punctuation around them; marks alone are not words."""
    words = (_AROUND_A_WORD.sub("", token) for token in text.split())
    return [word.upper() for word in words if word]


def read_text(text: str) -> ReadText:
    """What `text` asks for (see the module's docstring for the rules)."""
    words = text_words(text)
    if not words:
        return ReadText(InboundIntent.OTHER, "", False)
    first, has_more = words[0], len(words) > 1
    if not has_more and first in WHOLE_TEXT_KEYWORDS:
        return ReadText(WHOLE_TEXT_KEYWORDS[first], first, False)
    if first in FIRST_WORD_KEYWORDS:
        return ReadText(FIRST_WORD_KEYWORDS[first], first, has_more)
    return ReadText(InboundIntent.OTHER, "", False)
