"""Products, their lots and a lot's recall list: /api/v1/products/,
/api/v1/lots/ and /api/v1/lots/{id}/recipients/.

Staff add products and register lots (an expired one too, for traceability),
but change or delete neither through the API; a bad or duplicate one is a 400
and adds nothing. The recall list names every patient and session that
received a lot.

Time is frozen by the `clock` fixture (which `treatments_client` brings) at
Monday 2026-03-02 08:00 London, so completions can come after the start.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest

from tests.api_assertions import assert_client_error, assert_validation_error, listed_ids, parse_api_datetime, results
from tests.factories import CourseFactory, PatientFactory, ProductFactory, ProductLotFactory
from tests.treatments.api_helpers import LOTS_URL, PRODUCTS_URL, action_url, complete_url, detail_url
from tests.treatments.conftest import at, book
from treatments.models import Product, ProductLot

pytestmark = pytest.mark.django_db


# --- Products -------------------------------------------------------------------------


def test_adding_a_product_returns_201_and_it_is_listed(treatments_client) -> None:
    response = treatments_client.post(
        PRODUCTS_URL,
        {"name": "Nanosoft 0.7", "kind": "multi_injector_needle", "manufacturer": "Fillmed", "unit": "needle"},
    )

    assert response.status_code == 201, response.content
    product = Product.objects.get()
    assert response.json()["id"] == str(product.pk)
    assert (product.name, product.kind, product.manufacturer, product.unit) == (
        "Nanosoft 0.7",
        "multi_injector_needle",
        "Fillmed",
        "needle",
    )
    listed = treatments_client.get(PRODUCTS_URL, {"kind": "multi_injector_needle"})
    assert listed_ids(listed) == [str(product.pk)]
    assert treatments_client.get(detail_url(PRODUCTS_URL, product.pk)).json() == response.json()


@pytest.mark.parametrize(
    ("body", "attr"),
    [
        pytest.param({"kind": "potion"}, "kind", id="unknown-kind"),
        pytest.param({"name": ""}, "name", id="blank-name"),
        pytest.param({"name": {"en": "x"}}, "name", id="name-as-an-object"),
        pytest.param({"manufacturer": None}, "manufacturer", id="manufacturer-null"),
        pytest.param({"is_active": "perhaps"}, "is_active", id="is-active-not-a-boolean"),
        pytest.param({"price": "9.99"}, "price", id="unknown-field"),
        pytest.param({"id": str(uuid.uuid4())}, "id", id="read-only-id"),
    ],
)
def test_a_bad_product_is_a_400_naming_the_field_and_adds_nothing(treatments_client, body, attr) -> None:
    response = treatments_client.post(
        PRODUCTS_URL, {"name": "Cocktail", "kind": "solution", "manufacturer": "Dermalab", **body}
    )

    assert_validation_error(response, attr)
    assert not Product.objects.exists()


def test_a_product_already_known_from_the_same_manufacturer_is_refused(treatments_client) -> None:
    ProductFactory(name="Cocktail", manufacturer="Dermalab")

    response = treatments_client.post(
        PRODUCTS_URL, {"name": "Cocktail", "kind": "solution", "manufacturer": "Dermalab"}
    )

    assert response.status_code == 400, response.content
    assert response.json()["type"] == "validation_error"
    assert Product.objects.count() == 1


# --- Lots -----------------------------------------------------------------------------


def test_registering_lots_and_filtering_them(treatments_client) -> None:
    needle = ProductFactory(name="Needle", kind="multi_injector_needle")
    solution = ProductFactory(name="Solution", kind="solution")

    fresh = treatments_client.post(
        LOTS_URL,
        {"product": str(needle.pk), "lot_number": "N-1", "expires_on": "2027-06-30", "received_on": "2026-03-01"},
    )
    # An expired lot may be recorded, for the traceability of stock on hand.
    expired = treatments_client.post(
        LOTS_URL, {"product": str(solution.pk), "lot_number": "S-0", "expires_on": "2026-01-31"}
    )

    assert fresh.status_code == 201, fresh.content
    assert expired.status_code == 201, expired.content
    assert (fresh.json()["lot_number"], fresh.json()["expires_on"], fresh.json()["received_on"]) == (
        "N-1",
        "2027-06-30",
        "2026-03-01",
    )
    assert ProductLot.objects.count() == 2

    def lot_numbers(**params: Any) -> list[str]:
        return [row["lot_number"] for row in results(treatments_client.get(LOTS_URL, params))]

    assert lot_numbers() == ["S-0", "N-1"]  # soonest expiry first
    assert lot_numbers(expires_before="2026-03-02") == ["S-0"]
    assert lot_numbers(kind="multi_injector_needle") == ["N-1"]
    assert lot_numbers(product=str(solution.pk)) == ["S-0"]
    assert_validation_error(treatments_client.get(LOTS_URL, {"expires_before": "soon"}), "expires_before")


@pytest.mark.parametrize(
    ("body", "attr"),
    [
        pytest.param({"product": str(uuid.uuid4())}, "product", id="unknown-product"),
        pytest.param({"product": "cocktail"}, "product", id="product-not-a-uuid"),
        pytest.param({"expires_on": "soon"}, "expires_on", id="expiry-in-words"),
        pytest.param({"expires_on": "2027-06-30T00:00:00Z"}, "expires_on", id="expiry-as-a-datetime"),
        pytest.param({"expires_on": None}, "expires_on", id="expiry-null"),
        pytest.param({"lot_number": ""}, "lot_number", id="blank-lot-number"),
        pytest.param({"batch": "x"}, "batch", id="unknown-field"),
        pytest.param({"created_at": "2026-01-01T00:00:00Z"}, "created_at", id="read-only-created-at"),
    ],
)
def test_a_bad_lot_is_a_400_naming_the_field_and_registers_nothing(treatments_client, body, attr) -> None:
    product = ProductFactory()

    response = treatments_client.post(
        LOTS_URL, {"product": str(product.pk), "lot_number": "L-1", "expires_on": "2027-01-01", **body}
    )

    assert_validation_error(response, attr)
    assert not ProductLot.objects.exists()


def test_a_lot_number_already_registered_for_the_product_is_refused(treatments_client) -> None:
    existing = ProductLotFactory(lot_number="L-1")

    response = treatments_client.post(
        LOTS_URL, {"product": str(existing.product_id), "lot_number": "L-1", "expires_on": "2027-01-01"}
    )

    assert response.status_code == 400, response.content
    assert response.json()["type"] == "validation_error"
    assert ProductLot.objects.count() == 1
    # The same number from another product is a different lot.
    other = treatments_client.post(
        LOTS_URL, {"product": str(ProductFactory().pk), "lot_number": "L-1", "expires_on": "2027-01-01"}
    )
    assert other.status_code == 201, other.content


def test_products_and_lots_cannot_be_changed_or_deleted_through_the_api(treatments_client) -> None:
    lot = ProductLotFactory(lot_number="L-1")

    assert_client_error(
        treatments_client.patch(detail_url(LOTS_URL, lot.pk), {"lot_number": "X"}), 405, "method_not_allowed"
    )
    assert_client_error(treatments_client.delete(detail_url(LOTS_URL, lot.pk)), 405, "method_not_allowed")
    assert_client_error(treatments_client.delete(detail_url(PRODUCTS_URL, lot.product_id)), 405, "method_not_allowed")
    lot.refresh_from_db()
    assert lot.lot_number == "L-1"


# --- The recall list ------------------------------------------------------------------


def test_the_recall_list_names_every_patient_and_session_that_received_a_lot(
    treatments_client, practitioner_api, clock, location, practitioner, room
) -> None:
    recalled = ProductLotFactory(lot_number="RECALL-1")
    other_lot = ProductLotFactory(lot_number="SAFE-1")
    alice, bella, carol = (PatientFactory(first_name=name, last_name="Smith") for name in ("Alice", "Bella", "Carol"))
    sessions = {}
    for hour, patient in ((10, alice), (11, bella), (12, carol)):
        sessions[patient.first_name] = book(
            CourseFactory(location=location, patient=patient), practitioner, room, at(3, hour)
        )
    clock.move_to(at(3, 13))
    for name, lot, quantity in (("Alice", recalled, "1.5"), ("Bella", other_lot, "1"), ("Carol", recalled, "2")):
        done = practitioner_api.post(
            complete_url(sessions[name]), {"product_uses": [{"lot": str(lot.pk), "quantity": quantity}]}
        )
        assert done.status_code == 200, done.content
        clock.shift(timedelta(minutes=5))

    response = treatments_client.get(action_url(LOTS_URL, recalled.pk, "recipients"))

    assert response.status_code == 200, response.content
    assert response.json()["count"] == 2
    rows = response.json()["results"]
    assert [(row["patient"], row["patient_name"], row["session"], row["quantity"]) for row in rows] == [
        (str(alice.pk), alice.full_name, str(sessions["Alice"].pk), "1.50"),
        (str(carol.pk), carol.full_name, str(sessions["Carol"].pk), "2.00"),
    ]
    assert rows[0]["practitioner"] == str(practitioner.pk)
    assert parse_api_datetime(rows[0]["session_starts_at"]) == at(3, 10)
    assert parse_api_datetime(rows[0]["completed_at"]) == at(3, 13)
    assert parse_api_datetime(rows[1]["completed_at"]) == at(3, 13, 10)
    paged = treatments_client.get(action_url(LOTS_URL, recalled.pk, "recipients"), {"page_size": 1, "page": 2})
    assert [row["patient"] for row in paged.json()["results"]] == [str(carol.pk)]


def test_the_recall_list_of_an_unused_lot_is_empty_and_of_an_unknown_lot_a_404(treatments_client) -> None:
    unused = ProductLotFactory()

    response = treatments_client.get(action_url(LOTS_URL, unused.pk, "recipients"))

    assert response.status_code == 200, response.content
    assert (response.json()["count"], response.json()["results"]) == (0, [])
    assert_client_error(treatments_client.get(action_url(LOTS_URL, uuid.uuid4(), "recipients")), 404, "not_found")
