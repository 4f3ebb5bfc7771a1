"""The owner's page behind an owner link: onboarding progress (their tasks and ours, on time
or late, the next step) and the Point-B results, read-only and without a password.

Other report modules may add a section (e.g. the before/after lift) with
`owner_section_register(fn)`: `fn(merchant)` returns None or a dict with `template` and its
context; sections render below the Point-B figures in registration order."""

from __future__ import annotations

from collections.abc import Callable

from django.http import Http404
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from onboarding.owner_link import owner_link_resolve, owner_progress

from .metrics import point_b

OwnerSection = Callable[..., dict | None]
_sections: list[OwnerSection] = []


def owner_section_register(section: OwnerSection) -> None:
    """Add a section to the owner's page (called from an AppConfig.ready)."""
    if section not in _sections:
        _sections.append(section)


def owner_page_context(*, merchant, today=None) -> dict:
    """Everything the owner's page shows for `merchant` — nothing of any other merchant."""
    sections = [s for s in (section(merchant) for section in _sections) if s]
    return {
        "merchant": merchant,
        "progress": owner_progress(merchant=merchant, today=today),
        "b": point_b(merchant=merchant, today=today),
        "sections": sections,
    }


@never_cache
@require_safe
def owner_page(request, slug, token):
    """GET/HEAD only: every other method is 405, so the link can change nothing."""
    link = owner_link_resolve(
        slug=slug,
        token=token,
        ip=request.META.get("REMOTE_ADDR") or None,
        user_agent=request.META.get("HTTP_USER_AGENT", ""),
    )
    if link is None:
        raise Http404
    context = {**owner_page_context(merchant=link.merchant), "link": link}
    response = render(request, "reports/owner.html", context)
    response["Referrer-Policy"] = "no-referrer"
    response["X-Robots-Tag"] = "noindex, nofollow"
    return response
