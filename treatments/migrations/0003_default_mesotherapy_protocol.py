"""Default data: the facial mesotherapy protocol and the treatments it conflicts with.

Facts (product spec §1): 3–6 sessions, default 4, 14–28 days apart,
maintenance every 3–6 months (90–180 days); no chemical peel, laser or
microdermabrasion for 14 days after a session.
"""

from django.db import migrations

CATEGORIES = [
    ("mesotherapy", "Mesotherapy"),
    ("chemical_peel", "Chemical peel"),
    ("laser", "Laser"),
    ("microdermabrasion", "Microdermabrasion"),
]
MESOTHERAPY = "Facial mesotherapy"
CONFLICT_DAYS = 14


def load(apps, schema_editor):
    TreatmentCategory = apps.get_model("treatments", "TreatmentCategory")
    Protocol = apps.get_model("treatments", "Protocol")
    ConflictRule = apps.get_model("treatments", "ConflictRule")

    categories = {
        code: TreatmentCategory.objects.get_or_create(code=code, defaults={"name": name})[0]
        for code, name in CATEGORIES
    }
    protocol, _ = Protocol.objects.get_or_create(
        name=MESOTHERAPY,
        defaults={
            "category": categories["mesotherapy"],
            "description": (
                "Micro-injections of hyaluronic acid, vitamins and other nutrients into the dermis. "
                "A course of 3 to 6 sessions, 14 to 28 days apart, then maintenance every 3 to 6 months."
            ),
            "min_sessions": 3,
            "max_sessions": 6,
            "default_sessions": 4,
            "min_spacing_days": 14,
            "max_spacing_days": 28,
            "maintenance_min_days": 90,
            "maintenance_max_days": 180,
            "session_duration_minutes": 45,
        },
    )
    for code in ("chemical_peel", "laser", "microdermabrasion"):
        ConflictRule.objects.get_or_create(
            protocol=protocol, blocked_category=categories[code], defaults={"days": CONFLICT_DAYS}
        )


def unload(apps, schema_editor):
    # Keep clinic data: only the rules this migration made are removed, and
    # the protocol only while no course uses it.
    Protocol = apps.get_model("treatments", "Protocol")
    ConflictRule = apps.get_model("treatments", "ConflictRule")
    ConflictRule.objects.filter(protocol__name=MESOTHERAPY).delete()
    Protocol.objects.filter(name=MESOTHERAPY, courses__isnull=True).delete()


class Migration(migrations.Migration):
    dependencies = [("treatments", "0002_protocols_courses_sessions_products")]

    operations = [migrations.RunPython(load, unload)]
