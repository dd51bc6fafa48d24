"""structlog + stdlib logging configuration: JSON lines in production, console in dev.

Every line passes ``mask_secrets`` (``observability.redaction``): authorization headers,
cookies, passwords, tokens and anything shaped like a JWT never reach a handler.

A structlog call below its logger's level stops at the first processor
(``structlog.stdlib.filter_by_level``, which asks the stdlib logger, so per-logger levels and
a test's ``caplog.set_level`` still decide): no context merge, timestamp or masking is spent
on an event that no handler would receive.
"""

import logging.config

import structlog

from observability.redaction import mask_secrets

SHARED_PROCESSORS = [
    structlog.contextvars.merge_contextvars,
    structlog.stdlib.add_logger_name,
    structlog.stdlib.add_log_level,
    structlog.processors.TimeStamper(fmt="iso", utc=True),
    structlog.processors.StackInfoRenderer(),
    mask_secrets,
]


def json_formatter() -> structlog.stdlib.ProcessorFormatter:
    return structlog.stdlib.ProcessorFormatter(
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            mask_secrets,
            structlog.processors.JSONRenderer(),
        ],
        foreign_pre_chain=SHARED_PROCESSORS,
    )


def build_logging(
    *,
    json: bool,
    level: str,
    log_file: str = "",
    rotate_when: str = "midnight",
    max_bytes: int = 0,
    retention: int = 14,
) -> dict:
    renderer = (
        structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer(colors=False)
    )
    handlers: dict = {
        "console": {"class": "logging.StreamHandler", "formatter": "main"},
    }
    if log_file:
        # Files are always JSON lines; rotation by size when LOG_MAX_BYTES is set, else by time.
        if max_bytes > 0:
            handlers["file"] = {
                "class": "logging.handlers.RotatingFileHandler",
                "filename": log_file,
                "maxBytes": max_bytes,
                "backupCount": retention,
                "formatter": "json",
            }
        else:
            handlers["file"] = {
                "class": "logging.handlers.TimedRotatingFileHandler",
                "filename": log_file,
                "when": rotate_when,
                "backupCount": retention,
                "utc": True,
                "formatter": "json",
            }
    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            *SHARED_PROCESSORS,
            structlog.processors.format_exc_info,
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        cache_logger_on_first_use=True,
    )
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {
            "main": {
                "()": structlog.stdlib.ProcessorFormatter,
                "processors": [
                    structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                    *([structlog.processors.format_exc_info] if json else []),
                    mask_secrets,
                    renderer,
                ],
                "foreign_pre_chain": SHARED_PROCESSORS,
            },
            "json": {"()": json_formatter},
        },
        "handlers": handlers,
        "root": {"handlers": list(handlers), "level": level},
        "loggers": {
            "django.db.backends": {"level": "WARNING"},
            "django.server": {"level": "WARNING"},
            # httpx logs every request's full URL at INFO; a tenant's URL may carry its secret
            # (Slack's incoming webhooks). outbound.client logs the host and the outcome.
            "httpx": {"level": "WARNING"},
        },
    }


def configure(config: dict) -> None:
    logging.config.dictConfig(config)
