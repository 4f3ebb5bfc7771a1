"""Automated campaigns: the daily run (birthday, win-back, expiry), purchase and review hooks,
segment gifts, the outbox and its delivery backends, and the per-merchant schedule.

Modules by concern: `dates` (local days, birthdays, gift burn times), `audience` (who a
campaign may reward), `selection` (set-based candidates), `issuance` (idempotent rewards),
`expiry` (balances, certificates, burning gifts), `segments` (segment gifts), `outbox`
(rendering), `delivery` (backends), `run` (one day), `hooks` (after a purchase, a joining or a
review; subscribed to the engine's events at start-up), `schedule` (django-celery-beat), `stats`
(admin figures).
"""
