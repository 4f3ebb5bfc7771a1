"""Shared shapes of the reference data."""

from decimal import Decimal as D

from loyalty.program import TierSpec


def tiers(spec):
    return [TierSpec(name, D(cb), D(cap), D(th)) for name, cb, cap, th in spec]
