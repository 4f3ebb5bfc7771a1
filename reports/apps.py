from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


def _sync_roles_after_reports_migrate(sender, app_config=None, **kwargs):
    """Reports' permissions are created after onboarding's post-migrate role sync runs,
    so sync the role groups again once this app's permissions exist."""
    if app_config is None or app_config.label != "reports":
        return
    from django.contrib.auth.models import Group, Permission

    from onboarding.roles import sync_roles

    sync_roles(Group, Permission)


class ReportsConfig(AppConfig):
    name = "reports"
    verbose_name = _("Reports")

    def ready(self):
        from django.db.models.signals import post_migrate

        post_migrate.connect(_sync_roles_after_reports_migrate, sender=self)
