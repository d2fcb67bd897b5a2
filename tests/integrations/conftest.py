# The treatments scene (clock, location, room, practitioner, protocol, course) is shared here.
import pytest

from tests.treatments.conftest import clock, course, location, practitioner, protocol, room  # noqa: F401


@pytest.fixture(autouse=True)
def _trust_the_loopback_receiver(settings):  # type: ignore[no-untyped-def]
    """These tests' webhook receiver listens on 127.0.0.1, which production refuses (integrations.targets)."""
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = True
