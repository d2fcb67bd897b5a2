"""GSM-7 and segments: what a text costs, and folding a text into the alphabet."""

from __future__ import annotations

import pytest

from aftercare.sms_text import gsm7_fold, is_gsm7, sms_segments


@pytest.mark.parametrize(
    ("text", "segments"),
    [
        ("", 0),
        ("a" * 160, 1),
        ("a" * 161, 2),
        ("a" * 306, 2),
        ("a" * 307, 3),
        # The extension table costs two: 80 euro signs fill one segment, 81 need two.
        ("€" * 80, 1),
        ("€" * 81, 2),
        # One character outside the alphabet turns the whole text into UCS-2.
        ("á" + "a" * 69, 1),
        ("á" + "a" * 70, 2),
        ("á" + "a" * 133, 2),
        ("á" + "a" * 134, 3),
    ],
)
def test_segments_follow_the_alphabet_of_the_text(text: str, segments: int) -> None:
    assert sms_segments(text) == segments


def test_folding_keeps_what_gsm7_has_and_plains_the_rest() -> None:
    folded = gsm7_fold("Mañana miércoles, José Núñez: “sí” – 10:00…")

    assert folded == 'Mañana miércoles, José Nuñez: "si" - 10:00...'
    assert is_gsm7(folded)


def test_a_character_with_no_plain_form_becomes_a_question_mark() -> None:
    assert gsm7_fold("Hi 😀 Łucja 王") == "Hi ? Lucja ?"
