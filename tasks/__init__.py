"""Celery app and tasks: they call engine/ and the data layer, never Flask."""
