"""Replaying an upstream's history: gathering its timeline, replaying the verdicts, rendering text,
JSON and SVG.

See docs/architecture.md for where this part sits and what it may import.
"""
