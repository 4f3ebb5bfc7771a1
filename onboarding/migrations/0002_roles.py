"""Create the role groups (specialist, partner, owner, cashier) with their permissions."""

from django.contrib.auth.management import create_permissions
from django.db import migrations


def create_roles(apps, schema_editor):
    from onboarding.roles import sync_roles

    # Permissions are normally created after all migrations; create them now so the
    # groups get theirs in this migration.
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    sync_roles(apps.get_model("auth", "Group"), apps.get_model("auth", "Permission"))


def drop_roles(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(
        name__in=["specialist", "partner", "owner", "cashier"]
    ).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("onboarding", "0001_initial"),
        ("loyalty", "0001_initial"),
        ("crm", "0002_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(create_roles, drop_roles)]
