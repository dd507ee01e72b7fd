"""The pure core: domain models, errors, the evaluation of signals into a verdict, text sanitizing.
No I/O.

See docs/architecture.md for where this part sits and what it may import.
"""
