from django.apps import AppConfig


class FunctionsConfig(AppConfig):
    name = "functions"
    verbose_name = "Functions"

    def ready(self) -> None:
        from datastore.signals import record_changed, records_created
        from functions.receivers import queue_created_records_functions, queue_record_functions

        record_changed.connect(queue_record_functions, dispatch_uid="functions.record_functions")
        records_created.connect(
            queue_created_records_functions, dispatch_uid="functions.created_records_functions"
        )
