"""state layer of watcher."""
