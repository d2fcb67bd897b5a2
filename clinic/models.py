from django.db import models

from clinic.local_time import local_datetime_text


class Heartbeat(models.Model):
    """The last time a Celery worker ran the beat-scheduled heartbeat task.

    Only beat enqueues that task and only a worker runs it, so a fresh row
    proves the broker, beat and at least one worker are all alive.
    """

    name = models.CharField(max_length=50, unique=True)
    last_seen_at = models.DateTimeField()
    hostname = models.CharField(max_length=255, blank=True)

    def __str__(self) -> str:
        return f"{self.name} @ {local_datetime_text(self.last_seen_at)}"
