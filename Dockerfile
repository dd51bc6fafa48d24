# One image for every platform process (HTTP, websockets, functions supervisor, Celery worker
# and beat); docker-compose.yml chooses the command. Untested here: the development and CI
# machines run no Docker daemon. The systemd units under deploy/systemd/ are the same
# processes without containers.
FROM python:3.11-slim-bookworm

# bubblewrap: the functions' sandbox; npm: installs the pinned Deno (functions/runtime);
# postgresql-client: pg_dump for the nightly backup (15, as docker-compose.yml's servers).
RUN apt-get update \
    && apt-get install -y --no-install-recommends bubblewrap nodejs npm postgresql-client \
    && rm -rf /var/lib/apt/lists/*

RUN useradd --system --create-home --home-dir /var/lib/platform platform
# The functions supervisor's socket directory: a volume shared with gunicorn mounts here and
# takes this owner.
RUN install -d -o platform -g platform /run/platform-functions
WORKDIR /opt/platform

COPY requirements.txt ./
RUN python -m venv /opt/platform/.venv \
    && /opt/platform/.venv/bin/pip install --no-cache-dir -r requirements.txt
COPY functions/runtime/package.json functions/runtime/package-lock.json functions/runtime/
RUN cd functions/runtime && npm ci --no-audit --no-fund --loglevel=error

COPY . .
ENV PATH=/opt/platform/.venv/bin:$PATH \
    DJANGO_SETTINGS_MODULE=platform_site.settings.production \
    PLATFORM_VAR_DIR=/var/lib/platform
# Static files with production's hashed names, into PLATFORM_VAR_DIR/static. Production
# settings refuse to load without their three secrets: this one command gets throwaway
# values that stay out of the image's environment.
RUN SECRET_KEY=collectstatic-only DATABASE_URL=postgres://unused@localhost/unused \
    DATABASE_APP_PASSWORD=unused python manage.py collectstatic --no-input -v 0 \
    && chown -R platform:platform /var/lib/platform
USER platform
EXPOSE 8001 8002
CMD ["gunicorn", "platform_site.wsgi:application", "-k", "gthread", "-w", "4", "--threads", "8", "-b", "0.0.0.0:8001", "--log-level", "warning"]
