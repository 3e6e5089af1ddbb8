# Claymate: the Telegram bot and its job runner in one small image.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    CLAYMATE_DATA_DIR=/data

# A CJK font, so Chinese titles, boards and labels draw glyphs rather than boxes.
RUN apt-get update \
    && apt-get install -y --no-install-recommends fonts-wqy-microhei fontconfig \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /app
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY handlers ./handlers
COPY storage ./storage
RUN pip install --no-cache-dir . && useradd --create-home --uid 10001 claymate \
    && mkdir -p /data && chown claymate /data

USER claymate
VOLUME ["/data"]
# The webhook / metrics port, when CLAYMATE_WEBHOOK_URL or CLAYMATE_METRICS_PORT is set.
EXPOSE 8443 9100
# Migrations run at start; `claymate db upgrade` runs them alone.
CMD ["claymate", "run"]
