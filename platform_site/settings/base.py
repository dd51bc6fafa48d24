"""Settings shared by every environment, read from the environment with local defaults.

Each setting is defined once, here, in the section of its concern; ``local``, ``test`` and
``production`` only override. Two database aliases point at the same PostgreSQL database:

* ``default`` connects as the application role (no superuser, no BYPASSRLS, owns nothing),
  through Django's psycopg pool. Every request runs on it, so row-level security applies.
* ``owner`` connects as the role that owns the tables. Only migrations, backups and
  platform maintenance use it.
"""

import os
import socket
from datetime import timedelta
from pathlib import Path

import environ

from cache.config import (
    celery_settings,
    channel_layer_settings,
    django_cache_settings,
    redis_config_from_env,
)
from platform_site.settings.logging import build_logging

env = environ.Env()

BASE_DIR = Path(__file__).resolve().parent.parent.parent
VAR_DIR = Path(env.str("PLATFORM_VAR_DIR", default=str(BASE_DIR / "var")))
# This app instance's name (the X-Platform-Instance response header, logs, the Studio): one per
# host or per instance behind the load balancer.
PLATFORM_INSTANCE = env.str("PLATFORM_INSTANCE", default=socket.gethostname())

# --- Django -----------------------------------------------------------------------------------
DEBUG = env.bool("DJANGO_DEBUG", default=False)
SECRET_KEY = env.str("SECRET_KEY", default="")
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
CSRF_FAILURE_VIEW = "platform_site.errors.csrf_failure"

INSTALLED_APPS = [
    "studio",  # before the admin, so its templates override admin/base_site.html
    "studio.admin_site.StudioAdminConfig",
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
    "realtime",
    "compute",
    "functions",
    "storage",
    "outbound",
    "endusers",
    "access",
    "compat",
    "django_structlog",
    "django_prometheus",
]

MIDDLEWARE = [
    # Prometheus timing wraps everything.
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    "observability.middleware.RequestIdMiddleware",
    # Refuses hostile input before anything reads it; API errors in one shape, no-store.
    "platform_site.middleware.EdgeMiddleware",
    "django_structlog.middlewares.RequestMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "storage.middleware.DeliveryOriginMiddleware",
    # platform_site.middleware.<Name>: Django's or WhiteNoise's <Name>, skipped for requests
    # that cannot use it (bearer API calls, the liveness probe: needs_browser_middleware).
    # CSRF and frame headers stay for every request: `check --deploy` looks for them by name,
    # and on a bearer call (a CSRF-exempt DRF view) they cost a cookie read and a header.
    # Static files (Studio, admin, API docs) served by the app itself, under ASGI too.
    "platform_site.middleware.WhiteNoiseMiddleware",
    "corsheaders.middleware.CorsMiddleware",
    "platform_site.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "platform_site.middleware.AuthenticationMiddleware",
    # One read of cache.entities' epoch per request (with the session check when there is one).
    "cache.entities.RequestScope",
    # Client-app routes: the project from its API key, the end user from its token.
    "endusers.middleware.ClientIdentityMiddleware",
    "authn.middleware.TokenAuthenticationMiddleware",
    "tenants.middleware.TenantContextMiddleware",
    "platform_site.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Request context (org, route, API access log) once the tenant middleware knows the org.
    "observability.middleware.RequestContextMiddleware",
    "django_prometheus.middleware.PrometheusAfterMiddleware",
]

ROOT_URLCONF = "platform_site.urls"
WSGI_APPLICATION = "platform_site.wsgi.application"
ASGI_APPLICATION = "platform_site.asgi.application"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

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

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
# Local and test servers find static files in the apps; production serves `collectstatic` output.
WHITENOISE_USE_FINDERS = env.bool("WHITENOISE_USE_FINDERS", default=True)

# --- PostgreSQL -------------------------------------------------------------------------------
# An empty DATABASE_URL (an EnvironmentFile's placeholder) counts as unset: production then
# refuses it by name instead of failing to parse "".
_owner_db = env.db_url_config(
    env.str("DATABASE_URL", default="") or "postgres://platform@127.0.0.1:5432/platform"
)
DATABASE_APP_USER = env.str("DATABASE_APP_USER", default="platform_app")
DATABASE_APP_PASSWORD = env.str("DATABASE_APP_PASSWORD", default="")
DATABASE_POOL_MIN_SIZE = env.int("DATABASE_POOL_MIN_SIZE", default=2)
DATABASE_POOL_MAX_SIZE = env.int("DATABASE_POOL_MAX_SIZE", default=20)
DATABASE_POOL_TIMEOUT = env.float("DATABASE_POOL_TIMEOUT", default=10.0)
# The app role may go through PgBouncer (transaction pooling) while the owner connects
# directly (migrations, backups). Transaction pooling hands each transaction any server
# connection: no prepared statements, no server-side cursors. The tenant context is set with
# set_config(..., true) inside the request's transaction, so it travels with the transaction.
DATABASE_PGBOUNCER = env.bool("DATABASE_PGBOUNCER", default=False)
_app_db_options: dict = {
    # psycopg_pool.ConnectionPool arguments.
    "pool": {
        "min_size": DATABASE_POOL_MIN_SIZE,
        "max_size": DATABASE_POOL_MAX_SIZE,
        "timeout": DATABASE_POOL_TIMEOUT,
        "max_waiting": env.int("DATABASE_POOL_MAX_WAITING", default=200),  # beyond: fail fast
        "max_idle": env.float("DATABASE_POOL_MAX_IDLE", default=300.0),
        "max_lifetime": env.float("DATABASE_POOL_MAX_LIFETIME", default=1800.0),
        "reconnect_timeout": env.float("DATABASE_POOL_RECONNECT_TIMEOUT", default=60.0),
    },
}
# Prepared statements (psycopg prepare_threshold) pay off on direct connections only.
if DATABASE_PGBOUNCER:
    _app_db_options["prepare_threshold"] = None
elif env.str("DATABASE_PREPARE_THRESHOLD", default=""):
    _app_db_options["prepare_threshold"] = env.int("DATABASE_PREPARE_THRESHOLD")

DATABASES = {
    "default": {
        **_owner_db,
        "USER": DATABASE_APP_USER,
        "PASSWORD": DATABASE_APP_PASSWORD,
        "HOST": env.str("DATABASE_APP_HOST", default=_owner_db["HOST"]),
        "PORT": env.str("DATABASE_APP_PORT", default=str(_owner_db["PORT"] or "")),
        # The pool replaces persistent connections; the tenant context is transaction-local
        # (set_config(..., true)), so a connection returned to the pool carries nothing over.
        "CONN_MAX_AGE": 0,
        "OPTIONS": _app_db_options,
        "DISABLE_SERVER_SIDE_CURSORS": DATABASE_PGBOUNCER,
        "TEST": {"NAME": _owner_db["NAME"]},
    },
    "owner": {
        **_owner_db,
        "CONN_MAX_AGE": 0,
        "TEST": {"NAME": _owner_db["NAME"]},
    },
}
# A hot standby for reads that tolerate its lag (tenants.replicas): the same app role, so the
# same row-level security (it is a physical copy: policies, grants and all), and the same pool
# and PgBouncer options. Unset: no "replica" alias, everything reads the primary.
DATABASE_REPLICA_HOST = env.str("DATABASE_REPLICA_HOST", default="")
DATABASE_REPLICA_PORT = env.str("DATABASE_REPLICA_PORT", default=DATABASES["default"]["PORT"])
DATABASE_REPLICA_NAME = env.str("DATABASE_REPLICA_NAME", default=_owner_db["NAME"])
# After a caller's write, its reads stay on the primary this long (a Redis key per caller).
DATABASE_REPLICA_STICKY_SECONDS = env.float("DATABASE_REPLICA_STICKY_SECONDS", default=5.0)
# Above this lag (measured on the replica, once a second per process) reads go to the primary.
DATABASE_REPLICA_MAX_LAG_SECONDS = env.float("DATABASE_REPLICA_MAX_LAG_SECONDS", default=10.0)
if DATABASE_REPLICA_HOST:
    DATABASES["replica"] = {
        **DATABASES["default"],
        "HOST": DATABASE_REPLICA_HOST,
        "PORT": DATABASE_REPLICA_PORT,
        "NAME": DATABASE_REPLICA_NAME,
        "OPTIONS": {**_app_db_options, "pool": dict(_app_db_options["pool"])},
        "TEST": {"MIRROR": "default"},
    }
# A request whose primary is unreachable answers 503 with this Retry-After (seconds).
DATABASE_UNAVAILABLE_RETRY_AFTER = env.int("DATABASE_UNAVAILABLE_RETRY_AFTER", default=5)
DATABASE_ROUTERS = ["tenants.routers.OwnerMigratesRouter", "tenants.routers.ReplicaRouter"]

# --- Redis ------------------------------------------------------------------------------------
# One description of how to reach Redis (URL / TLS / AUTH / Sentinel, see cache/config.py);
# the cache, the channel layer, Celery, sessions and rate limits all derive from it.
REDIS = redis_config_from_env(os.environ)
REDIS_URL = REDIS.direct_url()
CACHES = {"default": django_cache_settings(REDIS)}
CHANNEL_LAYERS = {"default": channel_layer_settings(REDIS)}
REDIS_BREAKER_FAIL_MAX = env.int("REDIS_BREAKER_FAIL_MAX", default=3)
REDIS_BREAKER_RESET_SECONDS = env.float("REDIS_BREAKER_RESET_SECONDS", default=5.0)

# --- Redis: hotkeys, metrics -------------------------------------------------------------------
REDIS_HOTKEY_SAMPLE_RATE = env.float("REDIS_HOTKEY_SAMPLE_RATE", default=0.01)
REDIS_HOTKEY_THRESHOLD = env.float("REDIS_HOTKEY_THRESHOLD", default=1000.0)
REDIS_HOTKEY_ALERT_COOLDOWN = env.int("REDIS_HOTKEY_ALERT_COOLDOWN", default=300)

# --- Celery -----------------------------------------------------------------------------------
_celery_redis = celery_settings(REDIS)
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default=_celery_redis["broker_url"])
CELERY_BROKER_TRANSPORT_OPTIONS = _celery_redis["transport_options"]
CELERY_BROKER_USE_SSL = _celery_redis["use_ssl"]
CELERY_BROKER_POOL_LIMIT = _celery_redis["pool_limit"]
CELERY_RESULT_BACKEND = None
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_TIME_LIMIT = 300
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
# The platform's periodic tasks, the one list: each is created in django-celery-beat's tables
# after every migrate when missing (platform_site.celery.ensure_periodic_tasks), and is the
# Studio's to edit from then on. A schedule is a crontab (fields not named are "*") or
# "every" N seconds.
PERIODIC_TASKS = {
    "Nightly verified backup": {
        "task": "datastore.backup",
        "crontab": {"minute": "30", "hour": "3"},
    },
    "Evaluate alert rules": {
        "task": "observability.tasks.evaluate_alerts",
        "every": env.int("ALERT_EVALUATION_SECONDS", default=30),
    },
    "Prune old error occurrences": {
        "task": "observability.tasks.prune_errors",
        "every": 3600,
    },
}
# A broker restart must not end the worker: retry the connection forever, at start-up too
# (unacknowledged tasks go back to the queue: acks_late).
CELERY_BROKER_CONNECTION_RETRY = True
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_CONNECTION_MAX_RETRIES = None
# Readiness: each worker's consumer writes a heartbeat this often while it consumes, and
# /health/ready fails ``celery_worker`` when none is younger than the max age (0: not checked).
WORKER_HEARTBEAT_SECONDS = env.float("WORKER_HEARTBEAT_SECONDS", default=10.0)
WORKER_HEARTBEAT_MAX_AGE = env.float("WORKER_HEARTBEAT_MAX_AGE", default=60.0)

# --- Auth (authn) -----------------------------------------------------------------------------
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "guardian.backends.ObjectPermissionBackend",
]
# Argon2id first (OWASP floor); the others only verify legacy hashes, upgraded at login.
PASSWORD_HASHERS = [
    "authn.hashers.Argon2idPasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2SHA1PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 8},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
    {"NAME": "authn.validators.MaximumLengthValidator", "OPTIONS": {"max_length": 1024}},
]
LOGIN_URL = "admin:login"

# Access tokens. The signing key is JWT_SIGNING_KEY when set, else simplejwt's default: the
# environment's final SECRET_KEY.
SIMPLE_JWT = {
    # Pinned: tokens naming any other algorithm (none, RS256, ...) are refused.
    "ALGORITHM": "HS256",
    "ACCESS_TOKEN_LIFETIME": timedelta(
        minutes=min(15, max(5, env.int("JWT_ACCESS_MINUTES", default=10)))
    ),
    "REFRESH_TOKEN_LIFETIME": timedelta(days=env.int("JWT_REFRESH_DAYS", default=14)),
    "ISSUER": env.str("JWT_ISSUER", default="platform"),
    "AUDIENCE": env.str("JWT_AUDIENCE", default="platform-api"),
    "USER_ID_CLAIM": "sub",
    "USER_ID_FIELD": "id",
    "AUTH_HEADER_TYPES": ("Bearer",),
    "LEEWAY": 0,
    "UPDATE_LAST_LOGIN": False,
}
if env.str("JWT_SIGNING_KEY", default=""):
    SIMPLE_JWT["SIGNING_KEY"] = env.str("JWT_SIGNING_KEY")

AUTHN_SESSION_LIFETIME = timedelta(days=env.int("AUTHN_SESSION_DAYS", default=14))
AUTHN_REFRESH_REUSE_GRACE_SECONDS = env.float("AUTHN_REFRESH_REUSE_GRACE_SECONDS", default=10.0)
AUTHN_SESSION_CACHE_ALIAS = env.str("AUTHN_SESSION_CACHE_ALIAS", default="default")
AUTHN_SESSION_CACHE_TTL = env.int("AUTHN_SESSION_CACHE_TTL", default=3600)
# cache.entities: per-process copies of users, memberships, keys and collections (seconds,
# entries); the shared epoch in Redis is what invalidates them, the TTL only bounds their age.
ENTITY_CACHE_TTL = env.float("ENTITY_CACHE_TTL", default=300.0)
ENTITY_CACHE_SIZE = env.int("ENTITY_CACHE_SIZE", default=10000)
AUTHN_WARM_SESSIONS_ON_STARTUP = env.bool("AUTHN_WARM_SESSIONS_ON_STARTUP", default=True)
AUTHN_WARM_SESSIONS_LIMIT = env.int("AUTHN_WARM_SESSIONS_LIMIT", default=1000)
# Proxies whose X-Forwarded-For is believed (CIDRs); everyone else is their REMOTE_ADDR.
AUTHN_TRUSTED_PROXIES = env.list("AUTHN_TRUSTED_PROXIES", default=[])
# "<count>/<seconds>" per action and per key (client IP, account email).
AUTHN_RATE_LIMITS = {
    action: {
        key: env.str(f"AUTHN_RATE_{action.upper()}_{key.upper()}", default=default)
        for key, default in defaults.items()
    }
    for action, defaults in {
        "register": {"ip": "10/3600", "account": "3/3600"},
        "login": {"ip": "30/300", "account": "10/300"},
        "refresh": {"ip": "120/60", "account": "60/60"},
        "reset": {"ip": "10/3600", "account": "5/3600"},
    }.items()
}
AUTHN_EMAIL_ASYNC = env.bool("AUTHN_EMAIL_ASYNC", default=True)
AUTHN_FRONTEND_URL = env.str("AUTHN_FRONTEND_URL", default="http://127.0.0.1:8000")
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="no-reply@platform.local")
EMAIL_BACKEND = env.str("EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend")

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
    "DEFAULT_PARSER_CLASSES": ["platform_site.parsers.JSONBodyParser"],
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
    "ENUM_NAME_OVERRIDES": {
        "AlertSeverityEnum": "observability.constants.Severity",
        # Webhooks' events and functions' record_events: the data API's record events.
        "RecordEventEnum": "compute.constants.EVENTS",
        "AccessRuleKindEnum": "access.constants.RuleKind",
        "AlertChannelKindEnum": "observability.constants.ChannelKind",
        "ApiKeyKindEnum": "tenants.models.ProjectKey.Kind",
    },
}
CORS_ALLOWED_ORIGINS = env.list("CORS_ALLOWED_ORIGINS", default=[])
# Limits on what a client may send (platform_site/parsers.py, platform_site/middleware.py):
# a JSON body's size (Django's own setting, also the limit on form fields) and nesting depth,
# and the number of query parameters of one request.
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("API_MAX_BODY_BYTES", default=2_621_440)
API_MAX_JSON_DEPTH = env.int("API_MAX_JSON_DEPTH", default=64)
API_MAX_QUERY_PARAMS = env.int("API_MAX_QUERY_PARAMS", default=64)

# --- Data services (datastore) ----------------------------------------------------------------
# MongoDB for documents: any pymongo URI (mongodb+srv://, ?tls=true, ?replicaSet=..., auth).
MONGODB_URL = env.str("MONGODB_URL", default="")
MONGODB_DATABASE = env.str("MONGODB_DATABASE", default="platform")
MONGODB_TIMEOUT_MS = env.int("MONGODB_TIMEOUT_MS", default=5000)
BACKUP_DIR = env.str("BACKUP_DIR", default=str(VAR_DIR / "backups"))
BACKUP_KEEP = env.int("BACKUP_KEEP", default=7)  # verified backups whose files are kept

# --- Logging ----------------------------------------------------------------------------------
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
# RequestIdMiddleware has validated X-Request-ID before django-structlog reads it.
DJANGO_STRUCTLOG_TRUST_UPSTREAM_REQUEST_ID = True
# django-structlog would log the first X-Forwarded-For address of any caller; the authn
# middleware binds ``ip`` from authn.request_meta (forwarding believed from trusted proxies).
DJANGO_STRUCTLOG_IP_LOGGING_ENABLED = False
# request_started is logged before authentication knows the user and org; request_finished
# carries everything, so the start line is debug-only.
DJANGO_STRUCTLOG_STATUS_START_LOG_LEVEL = 10  # logging.DEBUG
# API access log: headers always masked; bodies only when asked for (and masked too).
LOG_HTTP_BODIES = env.bool("LOG_HTTP_BODIES", default=False)
LOG_HTTP_BODY_MAX = env.int("LOG_HTTP_BODY_MAX", default=2048)

# --- Observability ----------------------------------------------------------------------------
# Who may read /metrics and detailed health besides staff users: CIDRs, e.g. "10.0.0.0/8".
METRICS_ALLOWED_NETWORKS = env.list("METRICS_ALLOWED_NETWORKS", default=[])
ERROR_RETENTION_HOURS = env.int("ERROR_RETENTION_HOURS", default=24)
ALERT_RUNBOOK_BASE_URL = env.str(
    "ALERT_RUNBOOK_BASE_URL", default="https://runbooks.example.com/platform"
)
ALERT_HTTP_TIMEOUT = env.float("ALERT_HTTP_TIMEOUT", default=5.0)
ALERT_DELIVERY_ATTEMPTS = env.int("ALERT_DELIVERY_ATTEMPTS", default=3)
# Polled signal rules (cache hit rate, p99 latency) fire only on at least this many lookups or
# requests in the rule's window: an idle platform has no hit rate worth alerting on.
ALERT_MIN_SAMPLES = env.int("ALERT_MIN_SAMPLES", default=100)
ALERT_EMAIL_FROM = env.str("ALERT_EMAIL_FROM", default="alerts@localhost")
# OpenTelemetry: off unless OTEL_ENABLED; the standard OTEL_* variables configure exporter,
# endpoint, headers and sampler (OTEL_TRACES_SAMPLER / OTEL_TRACES_SAMPLER_ARG).
OTEL_ENABLED = env.bool("OTEL_ENABLED", default=False)
# Platform-wide API latency (p99 alert rule, Studio health): the fraction of API requests
# whose duration goes into the shared histogram in Redis.
LATENCY_SAMPLE_RATE = env.float("LATENCY_SAMPLE_RATE", default=1.0)
# Samples are counted in each process and sent to Redis in one pipeline this often, or as soon
# as this many are waiting (observability.latency.flush).
LATENCY_FLUSH_SECONDS = env.float("LATENCY_FLUSH_SECONDS", default=1.0)
LATENCY_FLUSH_SAMPLES = env.int("LATENCY_FLUSH_SAMPLES", default=500)
# Each project's client requests for the Studio's Logs page (observability.request_log): the
# last this many, none older than these hours, sent to Redis from each process this often or
# as soon as this many wait.
REQUEST_LOG_LENGTH = env.int("REQUEST_LOG_LENGTH", default=2000)
REQUEST_LOG_RETENTION_HOURS = env.int("REQUEST_LOG_RETENTION_HOURS", default=72)
REQUEST_LOG_FLUSH_SECONDS = env.float("REQUEST_LOG_FLUSH_SECONDS", default=1.0)
REQUEST_LOG_FLUSH_ENTRIES = env.int("REQUEST_LOG_FLUSH_ENTRIES", default=200)

# --- Studio -----------------------------------------------------------------------------------
STUDIO_LIVE_INTERVAL_SECONDS = env.float("STUDIO_LIVE_INTERVAL_SECONDS", default=5.0)

# --- Realtime ---------------------------------------------------------------------------------
REALTIME_AUTH_TIMEOUT = env.float("REALTIME_AUTH_TIMEOUT", default=10.0)
# How long a socket trusts a membership it read before checking PostgreSQL again (removals
# and role changes made through tenants.services reach the sockets at once anyway).
REALTIME_MEMBERSHIP_TTL = env.float("REALTIME_MEMBERSHIP_TTL", default=15.0)
# The replay log of each collection (realtime.replay): about this many recent change events,
# kept until the collection has had no change for this many seconds; a socket resubscribing
# with an older cursor is told to re-list.
REALTIME_REPLAY_MAXLEN = env.int("REALTIME_REPLAY_MAXLEN", default=10_000)
REALTIME_REPLAY_TTL_SECONDS = env.int("REALTIME_REPLAY_TTL_SECONDS", default=86_400)

# --- Webhooks (compute) -----------------------------------------------------------------------
WEBHOOK_TIMEOUT_SECONDS = env.float("WEBHOOK_TIMEOUT_SECONDS", default=10.0)
WEBHOOK_MAX_ATTEMPTS = env.int("WEBHOOK_MAX_ATTEMPTS", default=5)
WEBHOOK_RETRY_BASE_SECONDS = env.float("WEBHOOK_RETRY_BASE_SECONDS", default=10.0)

# --- Functions -------------------------------------------------------------------------------
# The supervisor that runs tenants' functions in sandboxed Deno workers listens here
# (``manage.py functions_supervisor``; ``make run`` and the tests start it).
FUNCTIONS_SUPERVISOR_SOCKET = env.str(
    "FUNCTIONS_SUPERVISOR_SOCKET", default=str(VAR_DIR / "functions" / "supervisor.sock")
)
FUNCTIONS_STATE_DIR = env.str("FUNCTIONS_STATE_DIR", default=str(VAR_DIR / "functions" / "state"))
FUNCTIONS_MEMORY_MB = env.int("FUNCTIONS_MEMORY_MB", default=128)
FUNCTIONS_PROJECT_CONCURRENCY = env.int("FUNCTIONS_PROJECT_CONCURRENCY", default=4)
FUNCTIONS_IDLE_SECONDS = env.float("FUNCTIONS_IDLE_SECONDS", default=300.0)
FUNCTIONS_REQUEST_BYTES = env.int("FUNCTIONS_REQUEST_BYTES", default=1024 * 1024)
FUNCTIONS_RESPONSE_BYTES = env.int("FUNCTIONS_RESPONSE_BYTES", default=6 * 1024 * 1024)
FUNCTIONS_OUTPUT_BYTES = env.int("FUNCTIONS_OUTPUT_BYTES", default=64 * 1024)
# auto: a cgroup per worker when /sys/fs/cgroup is writable, else prlimit (logged); on / off.
FUNCTIONS_CGROUPS = env.str("FUNCTIONS_CGROUPS", default="auto")
# Where a function's platform.fetch reaches the platform (its client API, as the caller): the
# platform's own HTTP address as seen from the supervisor's host (`make run`'s public port).
FUNCTIONS_PLATFORM_URL = env.str("FUNCTIONS_PLATFORM_URL", default="http://127.0.0.1:8000")

# --- Outgoing HTTP (outbound) -----------------------------------------------------------------
# Networks tenant URLs may reach although they are not public (CIDRs, comma-separated): local
# development and the tests allow loopback, where their receivers listen. Empty in production.
OUTBOUND_ALLOWED_NETWORKS = env.list("OUTBOUND_ALLOWED_NETWORKS", default=[])
# Deliveries (webhooks, job runs) one project may start per window; the rest wait their turn.
OUTBOUND_PROJECT_RATE = env.str("OUTBOUND_PROJECT_RATE", default="10/1")

# --- File storage -----------------------------------------------------------------------------
# Object bytes go to STORAGES["default"]: the local filesystem (MEDIA_ROOT) by default, or with
# STORAGE_BACKEND=s3 an S3 bucket or any S3-compatible store (django-storages; credentials from
# boto3's usual chain: AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, or the instance's role).
from storage import config as storage_config  # noqa: E402

MEDIA_ROOT = VAR_DIR / "media"
STORAGE_BACKEND = env.str("STORAGE_BACKEND", default="filesystem")
STORAGE_PUBLIC_CACHE_SECONDS = env.int("STORAGE_PUBLIC_CACHE_SECONDS", default=86400)
# Public and signed object URLs point at this origin when set: a host of its own (best a domain
# that is not a subdomain of the platform's), so a tenant's file never runs on our origin.
STORAGE_DELIVERY_ORIGIN = storage_config.delivery_origin(
    env.str("STORAGE_DELIVERY_ORIGIN", default="")
)
if STORAGE_DELIVERY_ORIGIN:
    ALLOWED_HOSTS.append(storage_config.delivery_hostname(STORAGE_DELIVERY_ORIGIN))
STORAGES = {
    "default": storage_config.default_storage(
        STORAGE_BACKEND,
        bucket_name=env.str("AWS_STORAGE_BUCKET_NAME", default=""),
        endpoint_url=env.str("AWS_S3_ENDPOINT_URL", default=""),
        region_name=env.str("AWS_S3_REGION_NAME", default=""),
    ),
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

# --- Client apps: project API keys, end users --------------------------------------------------
# End users' access tokens: HS256 under a key derived per project from the JWT signing key, an
# issuer per project ("<CLIENT_JWT_ISSUER>/<project ref>") and the audience "authenticated".
CLIENT_JWT_ISSUER = env.str("CLIENT_JWT_ISSUER", default="urn:platform:project")
CLIENT_ACCESS_TOKEN_LIFETIME = timedelta(
    seconds=min(3600, max(300, env.int("CLIENT_ACCESS_TOKEN_SECONDS", default=3600)))
)
# End users' auth endpoints, per project and per client IP (and per email where there is one):
# "<count>/<seconds>", as AUTHN_RATE_LIMITS.
CLIENT_AUTH_RATE_LIMITS = {
    action: {
        key: env.str(f"CLIENT_AUTH_RATE_{action.upper()}_{key.upper()}", default=default)
        for key, default in defaults.items()
    }
    for action, defaults in {
        "signup": {"ip": "30/3600", "account": "5/3600"},
        "signin": {"ip": "60/300", "account": "10/300"},
        "anonymous": {"ip": "30/3600"},
        "recover": {"ip": "10/3600", "account": "5/3600"},
        "refresh": {"ip": "240/60", "account": "60/60"},
    }.items()
}
