"""actions layer of watcher."""
