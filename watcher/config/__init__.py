"""The config file: its typed schema, validation rules and the report of what is wrong in it.

See docs/architecture.md for where this part sits and what it may import.
"""
