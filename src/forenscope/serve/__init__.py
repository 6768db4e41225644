"""The HTTP service and its page: ``forenscope serve`` (see app.py)."""
