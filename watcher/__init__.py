"""watcher: waits until an upstream feature really ships, then bumps a Helm chart to it."""

__version__ = "0.1.0"
