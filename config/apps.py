"""The admin's app config: the admin modules are discovered by the web process, not by every
process that sets Django up.

Django's default admin config imports every app's `admin` module when the apps are ready, so a
management command, a Celery worker or the client import's command line paid for the admin
classes, their forms and django-import-export's formats (openpyxl) before doing its own work.
Here discovery happens where the admin is used: the URL configuration (`config.urls`), which
the web process and every `reverse()` load, and the admin's system check (`manage.py check`)."""

from django.contrib import admin
from django.contrib.admin.apps import SimpleAdminConfig
from django.contrib.admin.checks import check_admin_app, check_dependencies
from django.core import checks


def check_discovered_admin(app_configs=None, **kwargs):
    """The admin's own check, over the ModelAdmins a web process would register."""
    admin.autodiscover()
    return check_admin_app(app_configs, **kwargs)


class PortalAdminConfig(SimpleAdminConfig):
    def ready(self):
        checks.register(check_dependencies, checks.Tags.admin)
        checks.register(check_discovered_admin, checks.Tags.admin)
