from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class DemoConfig(AppConfig):
    """The top floor: the five reference merchants and their seeded histories. It may import
    every other app; nothing imports it (tests/architecture/test_layers.py)."""

    name = "demo"
    verbose_name = _("Demo data")
