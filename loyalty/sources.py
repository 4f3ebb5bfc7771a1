"""Where a purchase (and a POS notification) comes from: the one list of sources."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class PurchaseSource(models.TextChoices):
    CASHIER = "cashier", _("Cashier page")
    EVOTOR = "evotor", _("Evotor")
    POSTER = "poster", _("Poster")
    IMPORT = "import", _("History import")
    API = "api", _("API")
    DEMO = "demo", _("Demo data")
