import django.db.models.functions.text
from django.conf import settings
from django.db import migrations, models

# A POS employee id entered on several staff members of one merchant (in any case) stays on one
# of them — the active one, else the oldest; the oldest among several active — and is cleared on
# the others; each clearing is logged on the merchant, so a specialist checks who it really is.
REASON = "cleared: another staff member of this merchant has the same POS employee id"


def clear_repeated_employee_ids(apps, schema_editor):
    StaffMember = apps.get_model("onboarding", "StaffMember")
    Event = apps.get_model("onboarding", "OnboardingEvent")
    kept: set[tuple[int, str]] = set()
    staff = StaffMember.objects.exclude(pos_employee_id="").order_by("-is_active", "pk")
    for person in staff.only("pk", "merchant_id", "full_name", "pos_employee_id"):
        key = (person.merchant_id, person.pos_employee_id.lower())
        if key not in kept:
            kept.add(key)
            continue
        StaffMember.objects.filter(pk=person.pk).update(pos_employee_id="")
        Event.objects.create(
            merchant_id=person.merchant_id,
            kind="pos_identity",
            reason=REASON,
            details={
                "changes": {"pos_employee_id": [person.pos_employee_id, ""]},
                "staff": person.full_name,
            },
        )


class Migration(migrations.Migration):
    dependencies = [
        ("onboarding", "0012_pos_identities_unique"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RunPython(clear_repeated_employee_ids, migrations.RunPython.noop),
        migrations.AddConstraint(
            model_name="staffmember",
            constraint=models.UniqueConstraint(
                models.F("merchant"),
                django.db.models.functions.text.Lower("pos_employee_id"),
                condition=models.Q(("pos_employee_id", ""), _negated=True),
                name="uniq_staff_pos_employee_id",
                violation_error_message=(
                    "Another staff member of this merchant already has this POS employee id."
                ),
            ),
        ),
    ]
