"""The Celery application; tasks live in each app's ``tasks.py``."""

import os

from celery import Celery
from celery.signals import setup_logging, worker_process_init
from django_structlog.celery.steps import DjangoStructLogInitStep

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "platform_site.settings.local")

app = Celery("platform")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
# Request ids travel in task headers and are bound in the worker (django-structlog).
app.steps["worker"].add(DjangoStructLogInitStep)


@worker_process_init.connect(weak=False)
def _init_tracing(**kwargs):
    from observability import tracing

    tracing.setup()


@setup_logging.connect(weak=False)
def _configure_logging(**kwargs):
    # The worker logs through the platform's structlog configuration (JSON when LOG_JSON).
    from logging.config import dictConfig

    from django.conf import settings

    dictConfig(settings.LOGGING)
