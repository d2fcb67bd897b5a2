from django.db import models


class Heartbeat(models.Model):
    """The last time a Celery worker ran the beat-scheduled heartbeat task.

    Only beat enqueues that task and only a worker runs it, so a fresh row
    proves the broker, beat and at least one worker are all alive.
    """

    name = models.CharField(max_length=50, unique=True)
    last_seen_at = models.DateTimeField()
    hostname = models.CharField(max_length=255, blank=True)

    def __str__(self) -> str:
        return f"{self.name} @ {self.last_seen_at:%Y-%m-%d %H:%M:%S}"
