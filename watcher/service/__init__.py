"""The long-running daemon: scheduling, health and metrics endpoints, logging set-up.

See docs/architecture.md for where this part sits and what it may import.
"""
