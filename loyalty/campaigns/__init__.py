"""Automated campaigns: the daily run (birthday, win-back, expiry), purchase and review hooks,
segment gifts, the outbox and its delivery backends, and the per-merchant schedule.

Modules by concern: `dates` (local days, birthdays), `selection` (set-based candidates),
`issuance` (idempotent rewards), `expiry` (balances, certificates, burning gifts),
`segments` (segment gifts), `outbox` (rendering), `delivery` (backends), `run` (one day),
`hooks` (after a purchase or a review), `schedule` (django-celery-beat), `stats` (admin figures).
"""
