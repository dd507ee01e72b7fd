"""watcher: waits until an upstream feature really ships, then bumps a Helm chart to it."""

__version__ = "0.1.0"
PROJECT_URL = "https://github.com/watcher-dev/watcher"
ISSUES_URL = f"{PROJECT_URL}/issues"
