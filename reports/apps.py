from django.apps import AppConfig
from django.db.models.signals import post_delete
from django.utils.translation import gettext_lazy as _


class ReportsConfig(AppConfig):
    name = "reports"
    verbose_name = _("Reports")

    def ready(self):
        # Loyalty sits below reports and never imports it: segment gifts reach the RFM
        # segments through the provider installed here, by name (the RFM module is imported
        # by the first segment gift that asks, not by every process at start-up). A deleted
        # merchant's client changes (plain ids, no foreign key) are deleted with it.
        # In ready(): these import models, which need the app registry loaded.
        from loyalty.campaigns.providers import rfm_provider_register
        from onboarding.models import Merchant

        # In ready(), as above: the receiver's module imports the reports' models.
        from .signals import merchant_changes_forget

        rfm_provider_register("reports.rfm.segment_client_ids")
        post_delete.connect(
            merchant_changes_forget, sender=Merchant, dispatch_uid="reports_merchant_changes"
        )
