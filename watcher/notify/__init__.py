"""notify layer of watcher."""
