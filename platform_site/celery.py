"""The Celery application; tasks live in each app's ``tasks.py``."""

import os

from celery import Celery, bootsteps
from celery.signals import setup_logging, worker_process_init
from django_structlog.celery.steps import DjangoStructLogInitStep

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "platform_site.settings.local")

app = Celery("platform")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
# Request ids travel in task headers and are bound in the worker (django-structlog).
app.steps["worker"].add(DjangoStructLogInitStep)


class ConsumingHeartbeat(bootsteps.StartStopStep):
    """Writes the readiness heartbeat while the consumer consumes.

    A consumer step: Celery starts it once the task consumer runs and stops it when the broker
    connection is lost (until it is back), so a worker that is reconnecting, hung or gone stops
    beating and ``/health/ready`` reports ``celery_worker`` failing.
    """

    requires = ("celery.worker.consumer.tasks:Tasks",)

    def __init__(self, c, **kwargs):
        super().__init__(c, **kwargs)
        self.timer_ref = None

    def start(self, c):
        from django.conf import settings

        from observability.health import worker_heartbeat

        worker_heartbeat(c.hostname)
        self.timer_ref = c.timer.call_repeatedly(
            settings.WORKER_HEARTBEAT_SECONDS, worker_heartbeat, (c.hostname,)
        )

    def stop(self, c):
        if self.timer_ref is not None:
            self.timer_ref.cancel()
            self.timer_ref = None

    shutdown = stop


app.steps["consumer"].add(ConsumingHeartbeat)


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


def ensure_periodic_tasks(sender, using: str = "default", **kwargs) -> None:
    """post_migrate: create each of ``settings.PERIODIC_TASKS`` in django-celery-beat's tables
    when missing (so ``make run`` and a deploy's migrate both install them). An entry that
    exists is left as it is: an admin may have edited it in the Studio."""
    if using != "owner":
        return
    from django.conf import settings
    from django_celery_beat.models import CrontabSchedule, IntervalSchedule, PeriodicTask

    for name, spec in settings.PERIODIC_TASKS.items():
        if PeriodicTask.objects.using(using).filter(name=name).exists():
            continue
        schedule = {}
        if "crontab" in spec:
            fields = ("minute", "hour", "day_of_week", "day_of_month", "month_of_year")
            schedule["crontab"], _ = CrontabSchedule.objects.using(using).get_or_create(
                **{field: spec["crontab"].get(field, "*") for field in fields}
            )
        else:
            schedule["interval"], _ = IntervalSchedule.objects.using(using).get_or_create(
                every=spec["every"], period=IntervalSchedule.SECONDS
            )
        PeriodicTask.objects.using(using).create(
            name=name, task=spec["task"], enabled=True, **schedule
        )
