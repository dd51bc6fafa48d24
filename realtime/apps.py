from django.apps import AppConfig


class RealtimeConfig(AppConfig):
    name = "realtime"
    verbose_name = "Realtime"

    def ready(self) -> None:
        from authn.signals import sessions_revoked
        from datastore.signals import record_changed, records_created
        from realtime.receivers import (
            close_revoked_sessions,
            narrow_member_sockets,
            relay_created_records,
            relay_record_change,
        )
        from tenants.signals import membership_changed

        record_changed.connect(relay_record_change, dispatch_uid="realtime.relay_record_change")
        records_created.connect(relay_created_records, dispatch_uid="realtime.relay_created")
        sessions_revoked.connect(close_revoked_sessions, dispatch_uid="realtime.close_revoked")
        membership_changed.connect(narrow_member_sockets, dispatch_uid="realtime.narrow_member")
