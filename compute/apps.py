from django.apps import AppConfig


class ComputeConfig(AppConfig):
    name = "compute"
    verbose_name = "Webhooks"

    def ready(self) -> None:
        from compute.receivers import queue_created_records_webhooks, queue_record_webhooks
        from datastore.signals import record_changed, records_created

        record_changed.connect(queue_record_webhooks, dispatch_uid="compute.record_webhooks")
        records_created.connect(
            queue_created_records_webhooks, dispatch_uid="compute.created_records_webhooks"
        )
