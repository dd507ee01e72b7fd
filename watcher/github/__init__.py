"""github layer of watcher."""
