"""The pure chart model: round-trip YAML splicing, the version/image bump plan, image sites and
styles.

See docs/architecture.md for where this part sits and what it may import.
"""
