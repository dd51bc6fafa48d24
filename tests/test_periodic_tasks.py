"""Periodic tasks come from one list (settings.PERIODIC_TASKS), installed after migrate into
django-celery-beat's tables, where the Studio's edits are left alone by the next migrate."""

from django.conf import settings
from django.core.management import call_command
from django_celery_beat.models import PeriodicTask

from platform_site.celery import app


def test_every_declared_task_is_installed_and_exists(committed):
    installed = {t.name: t for t in PeriodicTask.objects.select_related("crontab", "interval")}
    assert set(settings.PERIODIC_TASKS) <= set(installed)
    app.loader.import_default_modules()
    for name, spec in settings.PERIODIC_TASKS.items():
        task = installed[name]
        assert task.task == spec["task"] and task.task in app.tasks, name
        if "every" in spec:
            assert task.interval.every == spec["every"] and task.crontab is None
        else:
            assert (task.crontab.minute, task.crontab.hour) == (
                spec["crontab"]["minute"],
                spec["crontab"]["hour"],
            )
    # Nothing is scheduled a second way, beside the database.
    assert not app.conf.beat_schedule


def test_an_edited_task_survives_the_next_migrate(committed):
    name = "Evaluate alert rules"
    PeriodicTask.objects.filter(name=name).update(enabled=False)
    PeriodicTask.objects.filter(name="Nightly verified backup").delete()
    call_command("migrate", database="owner", verbosity=0, interactive=False)
    assert PeriodicTask.objects.get(name=name).enabled is False
    assert PeriodicTask.objects.filter(name="Nightly verified backup").count() == 1
