# The treatments scene (clock, location, room, practitioner, protocol, course) is shared here.
from tests.treatments.conftest import clock, course, location, practitioner, protocol, room  # noqa: F401
