"""Who a campaign may reward (Campaign.audience), as one filter every rule shares.

- members (the default): clients who joined the program (`joined_at` set) — a digitised
  member has a card to receive and spend the reward on;
- contacts: members plus every contact with consent to messages, imported contacts who never
  joined included. A member without consent stays in: widening the audience never drops one.

Selection applies the filter so the run's candidate counts are honest; issuance applies it again
under the clients' locks, so no path (hook, catch-up, segment gift, back-fill) can reward a
client outside the audience. A reward the client claims with a code (partner certificates) has
no audience: the client chose it."""

from django.db.models import Q

from ..models import Campaign, CampaignAudience, CampaignKind

# Kinds whose reward the client claims (a partner certificate code presented at the till or in
# the card): the client acts, nobody is selected, so no audience applies.
CLAIMED_KINDS = frozenset({CampaignKind.PARTNER_CERTIFICATE})


def audience_q(audience: str, *, via: str = "") -> Q:
    """The client filter for an audience; `via` is the path to the client from the queried
    model (e.g. "client__" for purchases and reviews). An unknown value means members."""
    members = Q(**{f"{via}joined_at__isnull": False})
    if audience == CampaignAudience.CONTACTS:
        return members | Q(**{f"{via}consent": True})
    return members


def campaign_audience_q(campaign: Campaign, *, via: str = "") -> Q:
    """The audience filter of a campaign; none for kinds the client claims (CLAIMED_KINDS)."""
    if campaign.kind in CLAIMED_KINDS:
        return Q()
    return audience_q(campaign.audience, via=via)


def campaign_admits(campaign: Campaign, *, joined: bool, consent: bool) -> bool:
    """`campaign_audience_q` for one locked client row (issuance reads the row under its
    lock and decides here, with the same rule)."""
    if campaign.kind in CLAIMED_KINDS:
        return True
    if campaign.audience == CampaignAudience.CONTACTS:
        return joined or consent
    return joined
