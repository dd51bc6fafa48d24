from django.apps import AppConfig


class RealtimeConfig(AppConfig):
    name = "realtime"
    verbose_name = "Realtime"

    def ready(self) -> None:
        # The data app announces committed record changes with a signal; realtime listens when
        # that app provides it.
        try:
            from datastore.signals import record_changed
        except ImportError:
            return
        from realtime.receivers import on_record_changed

        record_changed.connect(on_record_changed, dispatch_uid="realtime.record_changed")
