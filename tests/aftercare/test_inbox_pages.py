"""The front desk's inbox in the admin and the API: what waits for a person, and marking it handled.

Who may do what is walked for every role and key scope in tests/test_roles.py and
tests/test_admin_matrix.py; here are the pages and endpoints themselves.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.models import Group
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from rest_framework.test import APIClient

from aftercare.inbox import inbound_sms_receive
from aftercare.models import InboundIntent, InboundMessage
from clinic.roles import FRONT_DESK
from integrations.services import api_key_create
from tests.aftercare.conftest import LONDON, book, consenting_patient, local
from tests.factories import CourseFactory, UserFactory, mesotherapy_protocol

pytestmark = pytest.mark.django_db

AMELIA = "+447700900123"
INBOX = "/api/v1/inbox/"


@pytest.fixture
def texts(clock, location, practitioner, room):  # type: ignore[no-untyped-def]
    """Amelia asks to rebook, then texts STOP (acted on); an unknown number asks a question."""
    amelia = consenting_patient(first_name="Amelia", last_name="Hart", phone=AMELIA)
    course = CourseFactory(patient=amelia, location=location, protocol=mesotherapy_protocol())
    session = book(course, practitioner, room, local(LONDON, 3, 4, 10))
    rebook = inbound_sms_receive(from_number=AMELIA, body="R - Friday?", provider_message_id="SM1")
    clock.shift(timedelta(minutes=1))
    stop = inbound_sms_receive(from_number=AMELIA, body="STOP", provider_message_id="SM2")
    clock.shift(timedelta(minutes=1))
    stranger = inbound_sms_receive(from_number="+447700900999", body="Do you do lips?", provider_message_id="SM3")
    return {"amelia": amelia, "session": session, "rebook": rebook, "stop": stop, "stranger": stranger}


def desk_user() -> object:
    user = UserFactory(username="reception")
    user.groups.add(Group.objects.get(name=FRONT_DESK))
    return user


def api_as_desk() -> APIClient:
    client = APIClient()
    client.force_login(desk_user())
    return client


def api_with_key(*scopes: str) -> APIClient:
    client = APIClient()
    client.credentials(
        HTTP_AUTHORIZATION=f"Bearer {api_key_create(name='Desk app', scopes=list(scopes), actor=None)[1]}"
    )
    return client


# --- the API --------------------------------------------------------------------------------------


def test_the_open_inbox_lists_what_waits_for_a_person_newest_first(texts) -> None:
    body = api_as_desk().get(INBOX, {"handled": "false"}).json()

    assert [row["id"] for row in body["results"]] == [str(texts["stranger"].pk), str(texts["rebook"].pk)]
    rebook = body["results"][1]
    assert rebook | {"id": None, "created_at": None, "updated_at": None, "received_at": None} == {
        "id": None,
        "channel": "sms",
        "from_number": AMELIA,
        "to_number": "",
        "body": "R - Friday?",
        "received_at": None,
        "patient": str(texts["amelia"].pk),
        "session": str(texts["session"].pk),
        "intent": "rebook_request",
        "match": "matched",
        "handled": False,
        "handled_at": None,
        "handled_by": "",
        "handled_note": "",
        "created_at": None,
        "updated_at": None,
    }


def test_the_inbox_filters_by_intent_patient_handled_and_updated_since(texts, clock) -> None:
    client = api_as_desk()

    def ids(**query: str) -> set[str]:
        return {row["id"] for row in client.get(INBOX, query).json()["results"]}

    assert ids(handled="true") == {str(texts["stop"].pk)}
    assert ids(intent="opt_out") == {str(texts["stop"].pk)}
    assert ids(intent=["opt_out", "other"]) == {str(texts["stop"].pk), str(texts["stranger"].pk)}
    assert ids(patient=str(texts["amelia"].pk)) == {str(texts["rebook"].pk), str(texts["stop"].pk)}
    assert ids(match="unknown_number") == {str(texts["stranger"].pk)}
    since = (texts["stranger"].updated_at).isoformat()
    assert ids(updated_since=since) == {str(texts["stranger"].pk)}
    oldest_first = client.get(INBOX, {"ordering": "received_at"}).json()["results"]
    assert [row["id"] for row in oldest_first] == [str(texts[name].pk) for name in ("rebook", "stop", "stranger")]
    page = client.get(INBOX, {"page_size": 2}).json()
    assert len(page["results"]) == 2 and page["next"] is not None
    assert client.get(INBOX, {"handled": "maybe"}).status_code == 400
    assert client.get(INBOX, {"ordering": "body"}).status_code == 400


def test_the_desk_marks_a_text_handled_with_a_note_and_only_once(texts) -> None:
    client = api_as_desk()
    url = f"{INBOX}{texts['rebook'].pk}/handle/"

    response = client.post(url, {"note": "Called: moved to Friday 10:00."}, format="json")

    assert response.status_code == 200, response.content
    assert (response.json()["handled"], response.json()["handled_by"], response.json()["handled_note"]) == (
        True,
        "reception",
        "Called: moved to Friday 10:00.",
    )
    again = client.post(url, {"note": "Again"}, format="json")
    assert again.status_code == 409
    assert again.json()["errors"][0]["code"] == "invalid_state"
    assert client.post(f"{INBOX}{texts['stop'].pk}/handle/", {}, format="json").status_code == 409  # the system did
    assert client.post(url, {"note": "x", "extra": 1}, format="json").status_code == 400
    assert [row["id"] for row in client.get(INBOX, {"handled": "false"}).json()["results"]] == [
        str(texts["stranger"].pk)
    ]


def test_a_read_key_reads_the_inbox_and_a_book_key_also_handles_it(texts) -> None:
    reader, booker = api_with_key("read"), api_with_key("book")
    url = f"{INBOX}{texts['stranger'].pk}/handle/"

    assert reader.get(INBOX).status_code == 200
    assert reader.post(url, {"note": "Answered"}, format="json").status_code == 403
    handled = booker.post(url, {"note": "Answered"}, format="json")

    assert handled.status_code == 200
    assert handled.json()["handled_by"] == "integration:Desk app"
    assert APIClient().get(INBOX).status_code == 401


# --- the admin ------------------------------------------------------------------------------------


@pytest.fixture
def desk(client: Client) -> Client:
    client.force_login(desk_user())
    return client


CHANGELIST = reverse("admin:aftercare_inboundmessage_changelist")


def listed(response) -> list[InboundMessage]:  # type: ignore[no-untyped-def]
    assert response.status_code == 200
    return list(response.context["cl"].result_list)


def test_the_admin_inbox_lists_open_texts_and_finds_them_by_name_or_number_as_typed(desk, texts) -> None:
    assert listed(desk.get(CHANGELIST, {"status": "open"})) == [texts["stranger"], texts["rebook"]]
    assert listed(desk.get(CHANGELIST, {"status": "handled"})) == [texts["stop"]]
    assert listed(desk.get(CHANGELIST, {"intent__exact": "rebook_request"})) == [texts["rebook"]]
    assert listed(desk.get(CHANGELIST, {"match__exact": "unknown_number"})) == [texts["stranger"]]
    assert listed(desk.get(CHANGELIST, {"q": "Hart"})) == [texts["stop"], texts["rebook"]]
    assert listed(desk.get(CHANGELIST, {"q": "07700 900999"})) == [texts["stranger"]]

    html = desk.get(CHANGELIST, {"status": "open"}).content.decode()
    assert "R - Friday?" in html and "Do you do lips?" in html
    assert "Amelia Hart" in html and "+447700900999 (unknown number)" in html
    assert "Wed 4 Mar 2026 10:00" in html  # the session it is about
    assert ">Open<" in html


def test_the_list_costs_the_same_queries_for_few_or_many_texts(desk, texts, django_assert_max_num_queries) -> None:
    with CaptureQueriesContext(connection) as few:
        desk.get(CHANGELIST)
    for n in range(10):
        inbound_sms_receive(from_number=AMELIA, body=f"Question {n}", provider_message_id=f"SMmore{n}")

    with django_assert_max_num_queries(len(few.captured_queries)):
        assert len(listed(desk.get(CHANGELIST))) == 13


def test_saving_an_open_texts_page_marks_it_handled_with_the_note_and_returns_to_the_card(desk, texts) -> None:
    message = texts["rebook"]
    card = reverse("frontdesk:patient-card", args=[texts["amelia"].pk])
    page = reverse("admin:aftercare_inboundmessage_change", args=[message.pk])
    form = desk.get(page).context["adminform"].form
    assert list(form.fields) == ["handled_note"]  # the text itself is read only

    response = desk.post(f"{page}?next={card}", {"handled_note": "Rebooked for Friday.", "body": "changed"})

    assert response.status_code == 302 and response["Location"] == card
    message.refresh_from_db()
    assert (message.is_open, message.handled_note, message.handled_by_label) == (
        False,
        "Rebooked for Friday.",
        "reception",
    )
    assert message.body == "R - Friday?"
    assert message.history.latest().history_actor == "reception"
    # Handled, the page is read only: a second handling is refused.
    assert "adminform" in desk.get(page).context and desk.post(page, {"handled_note": "x"}).status_code == 403


def test_mark_handled_handles_each_selected_open_text_through_the_service(desk, texts) -> None:
    selected = [texts["rebook"].pk, texts["stranger"].pk, texts["stop"].pk]

    response = desk.post(
        CHANGELIST, {"action": "mark_handled", "_selected_action": [str(pk) for pk in selected]}, follow=True
    )

    notes = [str(message) for message in response.context["messages"]]
    assert "Marked 2 message(s) handled." in notes
    assert any("already handled by system" in note for note in notes)
    assert not InboundMessage.objects.filter(handled_at__isnull=True).exists()
    assert set(InboundMessage.objects.values_list("handled_by_label", flat=True)) == {"reception", "system"}


def test_nobody_adds_or_deletes_inbox_rows_in_the_admin(client, texts) -> None:
    client.force_login(UserFactory(username="owner", is_superuser=True))

    assert client.get(reverse("admin:aftercare_inboundmessage_add")).status_code == 403
    delete = reverse("admin:aftercare_inboundmessage_delete", args=[texts["rebook"].pk])
    assert client.post(delete, {"post": "yes"}).status_code == 403
    assert InboundMessage.objects.count() == 3
    assert texts["rebook"].intent == InboundIntent.REBOOK_REQUEST
