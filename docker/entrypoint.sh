#!/bin/sh
# Container entrypoint: migrate the database, then become the daemon.
#
# `exec` replaces this shell, so the daemon runs as PID 1 and receives the SIGTERM of
# `docker stop` itself (it finishes the current cycle, then exits 0). Settings come
# from the environment (WATCHER_CONFIG, WATCHER_DB_URL, GITHUB_TOKEN or
# GITHUB_TOKEN_FILE, WATCHER_HEALTH_BIND/PORT) so that both commands see the same
# config and database; the container's arguments are passed on to `watcher run`.
set -eu

watcher db upgrade
exec watcher run "$@"
