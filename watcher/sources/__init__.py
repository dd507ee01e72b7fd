"""Gathering evidence for one watch: releases, issues, changelog, feature scan, images, the chart's
pins.

See docs/architecture.md for where this part sits and what it may import.
"""
