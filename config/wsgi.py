"""The WSGI application. POS webhooks (`/pos/…`) run through `POS_MIDDLEWARE`, the
portal's chain without what serves people (sessions, CSRF, login lockout, messages, the
page CSP): a till's sale costs no work it does not need.

A web process serves the admin, so its URL configuration — and with it the admin modules, which
Django set-up alone leaves out (`config.apps`) — is loaded as the process starts, not by its
first request."""

import os
from importlib import import_module

from django.conf import settings
from django.core.handlers.wsgi import WSGIHandler
from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
POS_PREFIX = "/pos/"


class PosWebhookHandler(WSGIHandler):
    """A handler whose middleware chain is `settings.POS_MIDDLEWARE`."""

    def load_middleware(self, is_async=False):
        portal = settings.MIDDLEWARE
        settings.MIDDLEWARE = settings.POS_MIDDLEWARE
        try:
            super().load_middleware(is_async)
        finally:
            settings.MIDDLEWARE = portal


portal_application = get_wsgi_application()
pos_application = PosWebhookHandler()
import_module(settings.ROOT_URLCONF)  # the URLconf and the admin modules, before any request


def application(environ, start_response):
    if environ.get("PATH_INFO", "").startswith(POS_PREFIX):
        return pos_application(environ, start_response)
    return portal_application(environ, start_response)
