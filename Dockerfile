# syntax=docker/dockerfile:1
# Claymate: the Telegram bot and its job runner in one small image.
#
# Two stages: the first builds a virtual environment, the second carries only that
# environment, the fonts and the code. Dependencies are installed from the lock file in a
# layer of their own, before any source is copied, so a code change rebuilds in seconds.

FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/claymate
WORKDIR /src
COPY requirements.lock ./
RUN /opt/claymate/bin/pip install --require-hashes -r requirements.lock
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY handlers ./handlers
COPY storage ./storage
RUN /opt/claymate/bin/pip install --no-deps .


FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PATH=/opt/claymate/bin:$PATH \
    CLAYMATE_DATA_DIR=/data \
    CLAYMATE_METRICS_LISTEN=127.0.0.1 \
    CLAYMATE_METRICS_PORT=9100

# A CJK font, so Chinese titles, boards, subtitles and labels draw glyphs rather than boxes.
# FFmpeg's libraries come inside PyAV's wheel, so none are installed from apt.
RUN apt-get update \
    && apt-get install -y --no-install-recommends fonts-wqy-microhei fontconfig \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --create-home --uid 10001 claymate \
    && mkdir -p /data && chown claymate:claymate /data

COPY --from=build /opt/claymate /opt/claymate

USER claymate
WORKDIR /home/claymate
# Photos, clips, stills and films; the SQLite file too when DATABASE_URL is unset.
VOLUME ["/data"]
# The webhook and provider callbacks, when CLAYMATE_WEBHOOK_URL or CLAYMATE_PUBLIC_URL is set.
EXPOSE 8443
# /healthz is served on the metrics bind, inside the container only (127.0.0.1): 200 when
# the database answers and the job runner is alive.
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:9100/healthz', timeout=4).status == 200 else 1)"]
# Migrations run at start under a lock; `claymate db upgrade` runs them alone.
CMD ["claymate", "run"]
