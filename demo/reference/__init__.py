"""The five reference merchants of CASES.md as data: profile, Point A, program, campaigns,
and the Point-B sizes the demo's synthetic history is shaped after — one module per merchant —
and the standard checklist with what the demo takes from each seed (`checklists`).

Spend thresholds are not in the seeds; the demo uses plausible ladders for them."""

from . import kz_restaurant, rustore, sakura, tbilisi_restaurant, zolotoff
from .checklists import (
    SEED_CASES,
    STANDARD_CHECKLIST_FACTS,
    STANDARD_CHECKLIST_NAME,
    STANDARD_POS_STEPS,
)
from .specs import tiers

REFERENCE_MERCHANTS = [
    zolotoff.MERCHANT,
    kz_restaurant.MERCHANT,
    rustore.MERCHANT,
    sakura.MERCHANT,
    tbilisi_restaurant.MERCHANT,
]

__all__ = [
    "REFERENCE_MERCHANTS",
    "SEED_CASES",
    "STANDARD_CHECKLIST_FACTS",
    "STANDARD_CHECKLIST_NAME",
    "STANDARD_POS_STEPS",
    "tiers",
]
