"""The Content-Security-Policy of every response (django-csp). Our pages run no inline script:
their behaviours live in static files (`static/site/portal.js`, `static/cards/`) and take data
from data- attributes. The admin theme (django-unfold) evaluates Alpine.js expressions written
in its templates' attributes, which needs `'unsafe-eval'`; only `/admin/` gets that. Inline
styles stay allowed (the admin theme and our print pages use style attributes)."""

from csp.middleware import CSPMiddleware, PolicyParts

ADMIN_PREFIX = "/admin/"


class PortalCSPMiddleware(CSPMiddleware):
    def get_policy_parts(self, request, response, report_only: bool = False) -> PolicyParts:
        parts = super().get_policy_parts(request, response, report_only)
        if request.path_info.startswith(ADMIN_PREFIX):
            update = dict(parts.update or {})
            update["script-src"] = [*update.get("script-src", []), "'unsafe-eval'"]
            parts.update = update
        return parts
