from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class OnboardingConfig(AppConfig):
    name = "onboarding"
    verbose_name = _("Onboarding")

    def ready(self):
        from django.conf import settings
        from django.db.models.signals import post_migrate

        from config.secret_key import secret_key_warn

        secret_key_warn(generated_in=settings.SECRET_KEY_FILE, debug=settings.DEBUG)

        from .signals import sync_roles_after_migrate

        post_migrate.connect(sync_roles_after_migrate, dispatch_uid="onboarding_sync_roles")
