"""Test settings: the real PostgreSQL and Redis started by ``make test``. Passwords hash with the
production hasher (Argon2id at its production parameters), which ``tests/authn`` checks."""

import secrets

from .base import *  # noqa: F403
from .base import env

SECRET_KEY = env.str("SECRET_KEY", default="") or secrets.token_urlsafe(50)
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
CELERY_TASK_ALWAYS_EAGER = False
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # noqa: F405  (WhiteNoise expects it to exist)
# Receivers of local webhooks and of the tests listen on loopback.
OUTBOUND_ALLOWED_NETWORKS = env.list(
    "OUTBOUND_ALLOWED_NETWORKS", default=["127.0.0.0/8", "::1/128"]
)
# Most tests run no Celery worker; the ones that do (and check readiness) turn the check on.
WORKER_HEARTBEAT_MAX_AGE = env.float("WORKER_HEARTBEAT_MAX_AGE", default=0.0)
