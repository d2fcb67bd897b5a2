"""Webhooks go only to public https endpoints, follow no redirects, and their secret is shown once."""

from __future__ import annotations

import pytest

from integrations import webhooks
from integrations.models import DeliveryStatus, WebhookDelivery, WebhookSubscription
from tests.integrations.receiver import webhook_receiver
from tests.integrations.test_webhooks import TUESDAY_TEN, book, subscribe

pytestmark = pytest.mark.django_db

ADD_URL = "/admin/integrations/webhooksubscription/add/"


def add_form(url: str) -> dict[str, object]:
    return {"name": "Booking app", "url": url, "events": ["session.booked"], "is_active": "on"}


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("https://127.0.0.1/hooks", "private or reserved"),
        ("https://[::1]/hooks", "private or reserved"),
        ("https://10.1.2.3/hooks", "private or reserved"),
        ("https://192.168.0.10/hooks", "private or reserved"),
        ("https://169.254.169.254/latest/meta-data/", "private or reserved"),  # the cloud metadata service
        ("https://100.64.0.1/hooks", "private or reserved"),
        ("https://localhost/hooks", "private or reserved"),
        ("http://93.184.215.14/hooks", "only to https://"),
        ("https://user:pass@93.184.215.14/hooks", "no user name or password"),
    ],
)
def test_the_admin_refuses_targets_on_private_networks_and_plain_http(
    client, admin_user, settings, url: str, says: str
) -> None:
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = False
    client.force_login(admin_user)

    response = client.post(ADD_URL, add_form(url))

    assert response.status_code == 200
    assert says in str(response.context["adminform"].form.errors["url"])
    assert WebhookSubscription.objects.count() == 0


def test_a_public_https_target_is_saved_and_its_secret_shown_once(client, admin_user, settings) -> None:
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = False
    client.force_login(admin_user)

    response = client.post(ADD_URL, add_form("https://93.184.215.14/hooks"), follow=True)

    subscription = WebhookSubscription.objects.get()
    assert len(subscription.secret) >= 40
    [shown] = [m.message for m in response.context["messages"] if "Signing secret" in m.message]
    assert subscription.secret in shown
    change_page = client.get(f"/admin/integrations/webhooksubscription/{subscription.pk}/change/")
    assert subscription.secret not in change_page.content.decode()


def test_a_target_that_now_leads_to_a_private_address_is_refused_at_send_time(
    settings, clock, course, practitioner, room
) -> None:
    with webhook_receiver() as receiver:
        subscribe(receiver.url.replace("http://", "https://"), ["session.booked"])  # saved when allowed
        settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = False
        book(course, practitioner, room, TUESDAY_TEN)

        assert webhooks.deliver_due() == 1

    assert receiver.received == []
    delivery = WebhookDelivery.objects.get()
    assert delivery.status == DeliveryStatus.PENDING  # retried later, in case the address was a mistake fixed since
    assert "private or reserved" in delivery.attempt_log.get().error


def test_a_redirect_is_not_followed(clock, course, practitioner, room) -> None:
    with webhook_receiver(statuses=[302]) as receiver:
        subscribe(receiver.url, ["session.booked"])
        book(course, practitioner, room, TUESDAY_TEN)

        assert webhooks.deliver_due() == 1

    assert len(receiver.received) == 1
    delivery = WebhookDelivery.objects.get()
    assert delivery.status == DeliveryStatus.PENDING
    attempt = delivery.attempt_log.get()
    assert (attempt.status_code, "not followed" in attempt.error) == (302, True)
