"""clinic.prefetch: a page's reverse relations left as lists, read the same whichever way they came."""

from __future__ import annotations

import pytest

from clinic.prefetch import listed, rows_of
from tests.factories import CourseFactory, SessionFactory
from treatments.models import Course, Session

pytestmark = pytest.mark.django_db


def test_listed_rows_are_a_plain_list_read_in_one_query_for_the_page(django_assert_num_queries) -> None:
    courses = CourseFactory.create_batch(3)
    for course in courses:
        SessionFactory(course=course)

    with django_assert_num_queries(2):  # the courses, then the sessions of all of them
        page = list(Course.objects.prefetch_related(listed("sessions", Session.objects.order_by("starts_at"))))
        shown = {course.pk: rows_of(course, "sessions") for course in page}

    assert all(type(rows) is list and len(rows) == 1 for rows in shown.values())
    assert {rows[0].course_id for rows in shown.values()} == {course.pk for course in courses}


def test_rows_prefetched_the_usual_way_or_not_at_all_read_the_same(django_assert_num_queries) -> None:
    course = CourseFactory()
    session = SessionFactory(course=course)

    prefetched = Course.objects.prefetch_related("sessions").get(pk=course.pk)
    with django_assert_num_queries(0):
        assert list(rows_of(prefetched, "sessions")) == [session]
    plain = Course.objects.get(pk=course.pk)
    with django_assert_num_queries(1):
        assert list(rows_of(plain, "sessions")) == [session]
