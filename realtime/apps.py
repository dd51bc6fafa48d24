from django.apps import AppConfig


class RealtimeConfig(AppConfig):
    name = "realtime"
    verbose_name = "Realtime"

    def ready(self) -> None:
        from authn.signals import sessions_revoked
        from datastore.signals import record_changed
        from realtime.receivers import close_revoked_sessions, relay_record_change

        record_changed.connect(relay_record_change, dispatch_uid="realtime.relay_record_change")
        sessions_revoked.connect(close_revoked_sessions, dispatch_uid="realtime.close_revoked")
