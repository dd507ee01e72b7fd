"""sources layer of watcher."""
