"""With the broker down, writes that would wake a worker still succeed: the
rows are the truth, and beat picks them up once the broker is back."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import date

import pytest

from aftercare.models import MessageKind, ScheduledMessage, SideEffectReport
from devenv.servers import free_port
from tests.conftest import PROJECT_ROOT, database_url_for_current_test_db
from tests.factories import PatientFactory


@pytest.mark.django_db(transaction=True)
def test_a_red_flag_report_is_saved_and_its_alert_queued_when_redis_is_down() -> None:
    patient = PatientFactory()
    script = (
        "from datetime import date\n"
        "from aftercare.side_effects import side_effect_report_create\n"
        "from patients.models import Patient\n"
        f"side_effect_report_create(patient=Patient.objects.get(pk='{patient.pk}'), symptoms=['fever'],"
        f" severity='moderate', onset_on=date.fromisoformat('{date(2026, 1, 5).isoformat()}'), actor=None)\n"
        "print('saved')\n"
    )
    environ = {
        **os.environ,
        "DATABASE_URL": database_url_for_current_test_db(),
        # Nothing listens here: publishing the wake-up task fails.
        "REDIS_URL": f"redis://127.0.0.1:{free_port()}/0",
    }

    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", script],
        cwd=PROJECT_ROOT,
        env=environ,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert result.returncode == 0, result.stderr
    assert "saved" in result.stdout
    assert "will run at the next beat" in result.stderr
    report = SideEffectReport.objects.get(patient=patient)
    assert report.is_red_flag
    alert = ScheduledMessage.objects.get(kind=MessageKind.RED_FLAG_ALERT, patient=patient)
    assert alert.status == "pending"
