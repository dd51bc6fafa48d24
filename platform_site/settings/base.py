"""Settings shared by every environment, read from the environment with local defaults.

Two database aliases point at the same PostgreSQL database:

* ``default`` connects as the application role (no superuser, no BYPASSRLS, owns nothing),
  through Django's psycopg pool. Every request runs on it, so row-level security applies.
* ``owner`` connects as the role that owns the tables. Only migrations, backups and
  platform maintenance use it.
"""

from datetime import timedelta
from pathlib import Path

import environ

BASE_DIR = Path(__file__).resolve().parent.parent.parent
VAR_DIR = Path(environ.Env().str("PLATFORM_VAR_DIR", default=str(BASE_DIR / "var")))

env = environ.Env()

DEBUG = env.bool("DJANGO_DEBUG", default=False)
SECRET_KEY = env.str("SECRET_KEY", default="")
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "corsheaders",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "guardian",
    "django_celery_beat",
    "channels",
    "tenants",
    "authn",
    "datastore",
    "cache",
    "observability",
    "studio",
]

MIDDLEWARE = [
    "observability.middleware.RequestIdMiddleware",
    "django_structlog.middlewares.RequestMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "corsheaders.middleware.CorsMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "authn.middleware.TokenAuthenticationMiddleware",
    "tenants.middleware.TenantContextMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "platform_site.urls"
WSGI_APPLICATION = "platform_site.wsgi.application"
ASGI_APPLICATION = "platform_site.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- PostgreSQL -------------------------------------------------------------------------------
_owner_db = env.db_url("DATABASE_URL", default="postgres://platform@127.0.0.1:5432/platform")
DATABASE_APP_USER = env.str("DATABASE_APP_USER", default="platform_app")
DATABASE_APP_PASSWORD = env.str("DATABASE_APP_PASSWORD", default="")
DATABASE_POOL_MIN_SIZE = env.int("DATABASE_POOL_MIN_SIZE", default=2)
DATABASE_POOL_MAX_SIZE = env.int("DATABASE_POOL_MAX_SIZE", default=20)
DATABASE_POOL_TIMEOUT = env.float("DATABASE_POOL_TIMEOUT", default=10.0)

DATABASES = {
    "default": {
        **_owner_db,
        "USER": DATABASE_APP_USER,
        "PASSWORD": DATABASE_APP_PASSWORD,
        # The pool replaces persistent connections; the tenant context is transaction-local
        # (set_config(..., true)), so a connection returned to the pool carries nothing over.
        "CONN_MAX_AGE": 0,
        "OPTIONS": {
            "pool": {
                "min_size": DATABASE_POOL_MIN_SIZE,
                "max_size": DATABASE_POOL_MAX_SIZE,
                "timeout": DATABASE_POOL_TIMEOUT,
            },
        },
        "TEST": {"NAME": _owner_db["NAME"]},
    },
    "owner": {
        **_owner_db,
        "CONN_MAX_AGE": 0,
        "TEST": {"NAME": _owner_db["NAME"]},
    },
}
DATABASE_ROUTERS = ["tenants.routers.OwnerMigratesRouter"]
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis ------------------------------------------------------------------------------------
REDIS_URL = env.str("REDIS_URL", default="redis://127.0.0.1:6379/0")
CACHES = {
    "default": {
        "BACKEND": "django_redis.cache.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": "platform",
        "OPTIONS": {
            "CLIENT_CLASS": "django_redis.client.DefaultClient",
            "SOCKET_CONNECT_TIMEOUT": env.float("REDIS_CONNECT_TIMEOUT", default=0.5),
            "SOCKET_TIMEOUT": env.float("REDIS_SOCKET_TIMEOUT", default=0.5),
            "CONNECTION_POOL_KWARGS": {"max_connections": env.int("REDIS_POOL_SIZE", default=50)},
        },
    }
}
CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        "CONFIG": {"hosts": [REDIS_URL]},
    }
}

# --- Celery -----------------------------------------------------------------------------------
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default=REDIS_URL)
CELERY_RESULT_BACKEND = None
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_TIME_LIMIT = 300
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"

# --- Auth -------------------------------------------------------------------------------------
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "guardian.backends.ObjectPermissionBackend",
]
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 8},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "admin:login"

SIMPLE_JWT = {
    "ALGORITHM": "HS256",
    "SIGNING_KEY": env.str("JWT_SIGNING_KEY", default="") or SECRET_KEY,
    "ACCESS_TOKEN_LIFETIME": timedelta(minutes=env.int("JWT_ACCESS_MINUTES", default=10)),
    "REFRESH_TOKEN_LIFETIME": timedelta(days=env.int("JWT_REFRESH_DAYS", default=14)),
    "ISSUER": env.str("JWT_ISSUER", default="platform"),
    "AUDIENCE": env.str("JWT_AUDIENCE", default="platform-api"),
    "USER_ID_CLAIM": "sub",
    "USER_ID_FIELD": "id",
    "AUTH_HEADER_TYPES": ("Bearer",),
}

# --- API --------------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "authn.authentication.MiddlewareTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "platform_site.errors.api_exception_handler",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Platform API",
    "DESCRIPTION": "Multi-tenant backend: orgs, auth, data, realtime, health.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    # Swagger UI served from our own static files: the docs work offline.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "platform_site.errors.add_error_responses",
    ],
}
CORS_ALLOWED_ORIGINS = env.list("CORS_ALLOWED_ORIGINS", default=[])

# --- i18n / static ----------------------------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"

# --- Logging ----------------------------------------------------------------------------------
from platform_site.settings.logging import build_logging  # noqa: E402

LOG_JSON = env.bool("LOG_JSON", default=False)
LOG_LEVEL = env.str("LOG_LEVEL", default="INFO")
LOG_FILE = env.str("LOG_FILE", default="")
LOG_ROTATE_WHEN = env.str("LOG_ROTATE_WHEN", default="midnight")
LOG_MAX_BYTES = env.int("LOG_MAX_BYTES", default=0)  # > 0: rotate by size instead of time
LOG_RETENTION = env.int("LOG_RETENTION", default=14)  # rotated files kept
LOGGING = build_logging(
    json=LOG_JSON,
    level=LOG_LEVEL,
    log_file=LOG_FILE,
    rotate_when=LOG_ROTATE_WHEN,
    max_bytes=LOG_MAX_BYTES,
    retention=LOG_RETENTION,
)
DJANGO_STRUCTLOG_CELERY_ENABLED = True
CSRF_FAILURE_VIEW = "platform_site.errors.csrf_failure"
REDIS_BREAKER_FAIL_MAX = env.int("REDIS_BREAKER_FAIL_MAX", default=3)
REDIS_BREAKER_RESET_SECONDS = env.float("REDIS_BREAKER_RESET_SECONDS", default=5.0)

# --- Observability ----------------------------------------------------------------------------
INSTALLED_APPS += ["django_structlog", "django_prometheus"]  # noqa: F405
# Prometheus timing wraps everything; request context (org, route, API access log) is bound
# once the tenant middleware has resolved the org.
MIDDLEWARE = [
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    *MIDDLEWARE,
    "observability.middleware.RequestContextMiddleware",
    "django_prometheus.middleware.PrometheusAfterMiddleware",
]
# RequestIdMiddleware has validated X-Request-ID before django-structlog reads it.
DJANGO_STRUCTLOG_TRUST_UPSTREAM_REQUEST_ID = True
# request_started is logged before authentication knows the user and org; request_finished
# carries everything, so the start line is debug-only.
DJANGO_STRUCTLOG_STATUS_START_LOG_LEVEL = 10  # logging.DEBUG
# API access log: headers always masked; bodies only when asked for (and masked too).
LOG_HTTP_BODIES = env.bool("LOG_HTTP_BODIES", default=False)
LOG_HTTP_BODY_MAX = env.int("LOG_HTTP_BODY_MAX", default=2048)
# Who may read /metrics and detailed health besides staff users: CIDRs, e.g. "10.0.0.0/8".
METRICS_ALLOWED_NETWORKS = env.list("METRICS_ALLOWED_NETWORKS", default=[])
MONGODB_URL = env.str("MONGODB_URL", default="")
ERROR_RETENTION_HOURS = env.int("ERROR_RETENTION_HOURS", default=24)
ALERT_RUNBOOK_BASE_URL = env.str(
    "ALERT_RUNBOOK_BASE_URL", default="https://runbooks.example.com/platform"
)
ALERT_HTTP_TIMEOUT = env.float("ALERT_HTTP_TIMEOUT", default=5.0)
ALERT_DELIVERY_ATTEMPTS = env.int("ALERT_DELIVERY_ATTEMPTS", default=3)
ALERT_EMAIL_FROM = env.str("ALERT_EMAIL_FROM", default="alerts@localhost")
# OpenTelemetry: off unless OTEL_ENABLED; the standard OTEL_* variables configure exporter,
# endpoint, headers and sampler (OTEL_TRACES_SAMPLER / OTEL_TRACES_SAMPLER_ARG).
OTEL_ENABLED = env.bool("OTEL_ENABLED", default=False)
SPECTACULAR_SETTINGS.setdefault("ENUM_NAME_OVERRIDES", {})["AlertSeverityEnum"] = (
    "observability.constants.Severity"
)
CELERY_BEAT_SCHEDULE = globals().get("CELERY_BEAT_SCHEDULE", {}) | {
    "observability-evaluate-alerts": {
        "task": "observability.tasks.evaluate_alerts",
        "schedule": env.float("ALERT_EVALUATION_SECONDS", default=30.0),
    },
    "observability-prune-errors": {
        "task": "observability.tasks.prune_errors",
        "schedule": 3600.0,
    },
}
