"""The command line: parsing, rendering results for a terminal, exit codes. The only layer besides
the service that prints.

See docs/architecture.md for where this part sits and what it may import.
"""
