"""Every front-desk page, as every role: it opens for those whose permission it checks, and each action it
offers is one the viewer may take (nobody is shown a button that answers 403)."""

from __future__ import annotations

import pytest

from clinic.roles import CLINIC_ADMIN, CLINICAL_ADMIN, FRONT_DESK, PRACTITIONER
from tests.factories import UserFactory
from tests.treatments.conftest import at, book, in_role

pytestmark = pytest.mark.django_db

ROLES = [FRONT_DESK, PRACTITIONER, CLINICAL_ADMIN, CLINIC_ADMIN]


@pytest.mark.parametrize("role", ROLES)
def test_each_page_opens_for_whom_it_should_and_offers_only_what_they_may_do(
    client, clock, role, course, practitioner, room
) -> None:
    book(course, practitioner, room, at(2, 14))  # today
    user = in_role(UserFactory(username=f"user-{role}"), role)
    client.force_login(user)
    location = course.location
    may = user.has_perm

    pages = {
        "/frontdesk/worklist/": may("treatments.view_course"),
        f"/frontdesk/calendar/?location={location.pk}": may("treatments.view_session"),
        f"/frontdesk/today/?location={location.pk}": may("treatments.view_session"),
    }
    for url, allowed in pages.items():
        response = client.get(url)
        assert response.status_code == (200 if allowed else 403), (role, url)
        if not allowed:
            continue
        html = response.content.decode()
        assert ('id="patient-search-input"' in html) == may("patients.view_patient"), (role, url)
        if "/calendar/" in url:
            config = response.context["calendar_config"]
            assert config["mayMove"] == may("treatments.change_session"), role
            assert config["mayBook"] == may("treatments.add_session"), role
        if "/today/" in url:
            assert ("Check in</button>" in html) == may("treatments.change_session"), role
        if "/worklist/" in url:
            assert ("book-link" in html) <= may("treatments.add_session"), role
