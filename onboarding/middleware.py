"""Per-request time zone for pages that belong to one merchant."""

from django.utils import timezone

from .localtime import zone_of
from .models import Merchant

# URL namespaces whose `slug` kwarg names the merchant the whole page is about.
MERCHANT_PAGES = {"loyalty", "reports"}


class MerchantTimeZoneMiddleware:
    """Activates the merchant's zone for `/cashier/<slug>/…` and `/dashboard/<slug>/…` so every
    time on the page (and every time typed into its forms) is the merchant's local time. The
    view still decides who may see the page; an unknown slug changes nothing. The zone is reset
    after each request so a worker thread never carries it into the next one."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        try:
            return self.get_response(request)
        finally:
            timezone.deactivate()

    def process_view(self, request, view_func, view_args, view_kwargs):
        slug = view_kwargs.get("slug")
        match = getattr(request, "resolver_match", None)
        if not slug or match is None or match.namespace not in MERCHANT_PAGES:
            return None
        name = Merchant.objects.filter(slug=slug).values_list("time_zone", flat=True).first()
        zone = zone_of(name)
        if zone is not None:
            timezone.activate(zone)
        return None
