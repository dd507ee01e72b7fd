"""Acting on a verdict: the bump proposal, the planning of its diff, the pull request on GitHub.

See docs/architecture.md for where this part sits and what it may import.
"""
