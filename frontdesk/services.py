"""Writes the front desk owns: contact attempts (data rights live in frontdesk.data_rights)."""

from __future__ import annotations

from datetime import date

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from clinic.actors import Actor, actor_label, staff_user
from clinic.audit import records_actor
from clinic.errors import InvalidState
from frontdesk.models import ContactAttempt, ContactOutcome
from treatments.models import Course, CourseStatus
from treatments.services import course_cancel


@records_actor
@transaction.atomic
def contact_attempt_record(
    *, course: Course, outcome: str, actor: Actor, call_back_on: date | None = None, note: str = ""
) -> ContactAttempt:
    """Record an attempt to reach the patient about booking `course`.

    `call_back` needs a date after today at the course's location; the
    course stays off the worklist until then. `declined` ends the course:
    it is cancelled, with the note as the reason.
    """
    if outcome not in ContactOutcome.values:
        raise ValidationError({"outcome": f"Unknown outcome {outcome!r}."})
    course = Course.objects.select_for_update().select_related("location").get(pk=course.pk)
    if course.status in (CourseStatus.CANCELLED, CourseStatus.COMPLETED):
        raise InvalidState(f"This course is {course.get_status_display().lower()}: nobody is waiting to book.")
    if outcome == ContactOutcome.CALL_BACK:
        if call_back_on is None:
            raise ValidationError({"call_back_on": "Say when to call back."})
        if call_back_on <= course.location.today():
            raise ValidationError({"call_back_on": "A call-back date is after today."})
    elif call_back_on is not None:
        raise ValidationError({"call_back_on": "Only a call back has a date."})
    attempt = ContactAttempt.objects.create(
        course=course,
        outcome=outcome,
        call_back_on=call_back_on,
        note=note.strip(),
        made_by=staff_user(actor),
        made_by_label=actor_label(actor),
        made_at=timezone.now(),
    )
    if outcome == ContactOutcome.DECLINED:
        course_cancel(
            course=course,
            reason=f"The patient declined further sessions when called. {note.strip()}".strip(),
            actor=actor,
        )
    return attempt
