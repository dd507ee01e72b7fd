"""The database: schema, migrations and the Store facade over its table groups.

See docs/architecture.md for where this part sits and what it may import.
"""
