"""Telling people: the outbox of transition comments, the dashboard issue, Apprise targets.

See docs/architecture.md for where this part sits and what it may import.
"""
