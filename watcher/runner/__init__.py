"""One cycle over every watch: observe (gather and evaluate), act (PRs, notifications), the per-
watch error boundary.

See docs/architecture.md for where this part sits and what it may import.
"""
