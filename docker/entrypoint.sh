#!/bin/sh
# Container entrypoint: migrate the database, then become the daemon; or run another
# watcher command (`docker run IMAGE check`, `... status --json`, `... config check`).
#
# `exec` replaces this shell, so the daemon runs as PID 1 and receives the SIGTERM of
# `docker stop` itself (it finishes the current cycle, then exits 0). Settings come
# from the environment (WATCHER_CONFIG, WATCHER_DB_URL, GITHUB_TOKEN or
# GITHUB_TOKEN_FILE, WATCHER_HEALTH_BIND/PORT) so that every command sees the same
# config and database. Arguments that do not start with a command go to `watcher run`
# (watch ids, `--log-level DEBUG`, `--once`).
set -eu

# watcher's commands; tests/test_container_steps.py keeps this list equal to the CLI's.
COMMANDS="backtest check config db history init run status"

first="${1:-}"
for command in $COMMANDS; do
    if [ "$first" = "$command" ] && [ "$first" != run ]; then
        exec watcher "$@"
    fi
done
if [ "$first" = run ]; then
    shift
fi

watcher db upgrade
exec watcher run "$@"
