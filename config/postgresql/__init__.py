"""The PostgreSQL backend of the portal (Django's, with a health check that skips busy
connections: see `base`)."""
