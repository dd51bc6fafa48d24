from django.apps import AppConfig


class FunctionsConfig(AppConfig):
    name = "functions"
    verbose_name = "Functions"

    def ready(self) -> None:
        from datastore.signals import record_changed
        from functions.receivers import queue_record_functions

        record_changed.connect(queue_record_functions, dispatch_uid="functions.record_functions")
