from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _

from config.secret_key import secret_key_warn

from .signals import sync_roles_after_migrate


class OnboardingConfig(AppConfig):
    name = "onboarding"
    verbose_name = _("Onboarding")

    def ready(self):
        from django.conf import settings
        from django.db.models.signals import post_migrate

        secret_key_warn(generated_in=settings.SECRET_KEY_FILE, debug=settings.DEBUG)

        post_migrate.connect(sync_roles_after_migrate, dispatch_uid="onboarding_sync_roles")
