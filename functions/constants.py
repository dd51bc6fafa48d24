"""Names and limits of the functions app."""

from django.db import models

from datastore.signals import EVENT_NAMES

NAME_PATTERN = r"^[a-z][a-z0-9-]{0,62}$"
ENV_NAME_PATTERN = r"^[A-Z_][A-Z0-9_]{0,63}$"
# Set by the sandbox itself (or Deno's own switches): a function may not choose them.
RESERVED_ENV_PREFIXES = ("DENO_", "V8_")
RESERVED_ENV_NAMES = frozenset({"HOME", "PATH", "NO_COLOR", "LD_PRELOAD", "LD_LIBRARY_PATH"})
MAX_ENV_VARS = 50
MAX_ENV_VALUE = 4096
MAX_SOURCE_BYTES = 512 * 1024
MAX_EGRESS_HOSTS = 20

DEFAULT_TIMEOUT_SECONDS = 10
MAX_TIMEOUT_SECONDS = 60

# What a function can be triggered by on record changes: the data API's events.
RECORD_EVENTS = tuple(EVENT_NAMES.values())

# Audit actions (strings of their own: the audit table's action column takes any name).
AUDIT_DEPLOY = "function_deploy"
AUDIT_UPDATE = "function_update"
AUDIT_ROLLBACK = "function_rollback"
AUDIT_DELETE = "function_delete"


class Trigger(models.TextChoices):
    HTTP = "http", "HTTP"
    TEST = "test", "Test run"
    RECORD = "record", "Record change"
    CRON = "cron", "Schedule"


class ExitReason(models.TextChoices):
    OK = "ok", "Answered"
    ERROR = "error", "Threw an error"
    PERMISSION_DENIED = "permission_denied", "Refused by the sandbox"
    TIMEOUT = "timeout", "Timed out"
    OUT_OF_MEMORY = "out_of_memory", "Out of memory"
    CRASHED = "crashed", "Worker crashed"
    STARTUP_FAILED = "startup_failed", "Failed to start"
    CONCURRENCY_LIMIT = "concurrency_limit", "Too many at once"
    REQUEST_TOO_LARGE = "request_too_large", "Request too large"
    RESPONSE_TOO_LARGE = "response_too_large", "Response too large"
    UNAVAILABLE = "unavailable", "Supervisor unavailable"
