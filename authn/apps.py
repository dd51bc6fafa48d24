import os
import sys
import threading

from django.apps import AppConfig

SERVER_PROGRAMS = ("uvicorn", "gunicorn", "daphne")


def _is_server_process() -> bool:
    # ".../bin/uvicorn", "gunicorn", or ".../uvicorn/__main__.py" under "python -m uvicorn".
    parts = os.path.normpath(sys.argv[0]).split(os.sep)[-2:] if sys.argv else []
    return any(p.startswith(SERVER_PROGRAMS) for p in parts) or "runserver" in sys.argv[1:2]


def _warm_in_background() -> None:
    import structlog

    from authn.services import session_check
    from cache.breaker import RedisUnavailable

    logger = structlog.get_logger("authn.warm")
    try:
        session_check.sessions_warm_on_start()
    except RedisUnavailable as exc:
        logger.warning("session_cache_warm_skipped", error=str(exc))
    except Exception:  # startup must not die of a warm-up failure; it is logged
        logger.exception("session_cache_warm_failed")
    finally:
        from django.db import connections

        connections.close_all()


class AuthnConfig(AppConfig):
    name = "authn"
    verbose_name = "Authentication"

    def ready(self) -> None:
        from django.conf import settings

        from authn import schema  # noqa: F401  (registers the OpenAPI extension)

        # A server process fills the session cache at start, so a Redis restart followed by
        # an app restart does not send every request to PostgreSQL (one process of the
        # deployment per few minutes: session_check.sessions_warm_on_start).
        if settings.AUTHN_WARM_SESSIONS_ON_STARTUP and _is_server_process():
            threading.Timer(1.0, _warm_in_background).start()
