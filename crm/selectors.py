"""Reads of clients shared by admin pages and views."""

import re

from onboarding.access import visible_merchants

from .phones import phone_or_none

_PHONE_LIKE = re.compile(r"^[\s+()\-.\d'’]{7,}$")


def client_search_phones(term: str, *, user) -> list[str]:
    """E.164 candidates for a search term that looks like a phone number, one per country
    of the merchants the user may see; [] when the term is not a phone."""
    term = (term or "").strip()
    if not _PHONE_LIKE.match(term) or sum(ch.isdigit() for ch in term) < 7:
        return []
    regions = set(visible_merchants(user).values_list("country", flat=True).distinct())
    return sorted({p for region in regions if (p := phone_or_none(term, region))})
