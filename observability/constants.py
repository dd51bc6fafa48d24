"""Names shared by error tracking and alerting."""

from django.db import models


class Severity(models.TextChoices):
    INFO = "info", "Info"
    WARNING = "warning", "Warning"
    CRITICAL = "critical", "Critical"


SEVERITY_RANK = {Severity.INFO: 0, Severity.WARNING: 1, Severity.CRITICAL: 2}


class AlertState(models.TextChoices):
    FIRING = "firing", "Firing"
    ACKNOWLEDGED = "acknowledged", "Acknowledged"
    RESOLVED = "resolved", "Resolved"


class RuleKind(models.TextChoices):
    REDIS_DOWN = "redis_down", "Redis down / breaker open"
    ERROR_RATE = "error_rate", "Error rate above threshold (errors per minute)"
    P99_LATENCY = "p99_latency", "p99 latency above threshold (ms)"
    CACHE_HIT_RATE = "cache_hit_rate", "Cache hit rate below threshold (0..1)"
    HOTKEY = "hotkey", "Hot key above threshold (ops/s)"
    BACKUP_FAILED = "backup_failed", "Backup failed"
    REPLICATION_LAG = "replication_lag", "Replication lag above threshold (s)"
    FUNCTION_ERROR_RATE = "function_error_rate", "A function's failed share of invocations (0..1)"


class ChannelKind(models.TextChoices):
    SLACK = "slack", "Slack incoming webhook"
    PAGERDUTY = "pagerduty", "PagerDuty Events API v2"
    WEBHOOK = "webhook", "Signed webhook"
    EMAIL = "email", "Email"


class ErrorSource(models.TextChoices):
    HTTP = "http", "HTTP request"
    CELERY = "celery", "Celery task"
    WEBSOCKET = "websocket", "Websocket consumer"
