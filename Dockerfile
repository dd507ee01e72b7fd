# syntax=docker/dockerfile:1
# watcher: `docker build -t watcher .` then (README, "Running in Docker and Kubernetes")
#   docker run -v watcher-data:/data -e GITHUB_TOKEN -e WATCHER_CONFIG=/config/watcher.toml \
#     -v "$PWD/watcher.toml:/config/watcher.toml:ro" -p 127.0.0.1:9464:9464 watcher
# The port is published on the host's loopback only: /metrics is for a local scraper.
# `docker run IMAGE check` (or status, history, ...) runs that watcher command instead.
# Give `docker stop` a --time longer than the slowest cycle: SIGTERM lets it finish.

# -- builder: the watcher wheel and every dependency as wheels --------------------------
FROM python:3.12-slim AS builder

ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1

WORKDIR /src
# Only what the wheels are built from: a narrow context keeps the layer cache useful.
# requirements/container.txt is the lock (`make lock`): every dependency pinned, so
# --no-deps builds exactly those versions and nothing is resolved here.
COPY pyproject.toml README.md ./
COPY requirements/container.txt requirements/
COPY migrations/ migrations/
COPY watcher/ watcher/
RUN pip wheel --no-cache-dir --no-deps --wheel-dir /wheels -r requirements/container.txt .

# -- runtime ----------------------------------------------------------------------------
FROM python:3.12-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1

# Installed offline from the builder's wheels, mounted rather than copied so they do
# not stay behind in a layer. /wheels holds exactly the locked versions and watcher, so
# installing every file in it is installing watcher[postgres]; `pip check` fails the
# build when the lock lacks something pyproject.toml asks for (run `make lock`).
RUN --mount=type=bind,from=builder,source=/wheels,target=/wheels \
    pip install --no-cache-dir --no-index --find-links=/wheels /wheels/*.whl
RUN pip check

RUN useradd --system --no-log-init --uid 10001 --user-group \
        --home-dir /data --shell /usr/sbin/nologin watcher \
    && mkdir -p /data \
    && chown watcher:watcher /data

COPY --chmod=0755 docker/entrypoint.sh /usr/local/bin/watcher-entrypoint

# State on the volume; the health/metrics endpoint must be reachable from outside the
# container (the daemon binds 127.0.0.1 by default).
ENV WATCHER_DB_URL=sqlite:////data/watcher.db \
    WATCHER_HEALTH_BIND=0.0.0.0 \
    WATCHER_HEALTH_PORT=9464
VOLUME /data
EXPOSE 9464

# Numeric, so that Kubernetes' runAsNonRoot can verify it without reading /etc/passwd.
USER 10001:10001
WORKDIR /data

# No curl in slim: ask /livez with Python (urlopen raises on 503 -> exit 1). Liveness,
# not readiness: a GitHub outage or a revoked token makes /readyz 503, and restarting
# the container would fix neither; /livez fails only when the scheduler loop is stuck.
HEALTHCHECK --interval=30s --timeout=5s --start-period=1m --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ.get('WATCHER_HEALTH_PORT', '9464') + '/livez', timeout=4)"]

ENTRYPOINT ["watcher-entrypoint"]
