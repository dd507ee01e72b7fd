"""Talking to the network: the HTTP client with deadlines, the rate-limit policy, GitHub reads and
writes, registries.

See docs/architecture.md for where this part sits and what it may import.
"""
