# marsad worker image: slim Python, non-root user, the package and its default config.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1

WORKDIR /app
COPY pyproject.toml README.md ./
COPY worker ./worker
RUN pip install --no-cache-dir . flower \
    && useradd --create-home --uid 10001 marsad
COPY config ./config

USER marsad
# docker-compose.yml overrides the command per service (beat, worker, web, flower).
EXPOSE 8484
CMD ["marsad", "run"]
