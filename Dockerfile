# NTM Tracker API image: Python 3.11, runs as a non-root user, health-checked.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

RUN useradd --create-home --uid 10001 ntm
WORKDIR /srv/ntm

COPY pyproject.toml README.md alembic.ini ./
COPY alembic ./alembic
COPY app ./app
# Editable install keeps alembic/ beside the package, where the service finds its migrations.
RUN pip install -e . && chown -R ntm:ntm /srv/ntm

USER ntm
EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s --retries=3 \
  CMD python -c "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/readyz', timeout=2).status == 200 else 1)"

# Needs NTM_SECRET_KEY (32+ random bytes) and NTM_DATABASE_URL; on PostgreSQL run the API as the
# service role (`ntm db roles`, README "What an operator must set"), as docker-compose.yml does.
CMD ["ntm", "serve", "--host", "0.0.0.0", "--port", "8000", "--workers", "2"]
