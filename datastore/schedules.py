"""Periodic data tasks, registered in django-celery-beat's tables after every ``migrate``
(so ``make run`` and a deploy's migrate both install them; an admin may edit them in the
Studio afterwards: only a missing entry is created)."""

BACKUP_TASK = "datastore.backup"
BACKUP_NAME = "Nightly verified backup"


def ensure_schedules(sender, using: str = "default", **kwargs) -> None:
    if sender.name != "datastore" or using != "owner":
        return
    from django_celery_beat.models import CrontabSchedule, PeriodicTask

    if PeriodicTask.objects.using(using).filter(name=BACKUP_NAME).exists():
        return
    schedule, _ = CrontabSchedule.objects.using(using).get_or_create(
        minute="30", hour="3", day_of_week="*", day_of_month="*", month_of_year="*"
    )
    PeriodicTask.objects.using(using).create(
        name=BACKUP_NAME, task=BACKUP_TASK, crontab=schedule, enabled=True
    )
