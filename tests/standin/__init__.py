"""A local stand-in for GitHub's REST API, codeload and OCI registries, for tests only.

Start it with :class:`tests.standin.server.StandIn`; see ``README.md`` beside this file.
"""
