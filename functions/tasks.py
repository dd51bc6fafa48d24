"""Celery: run a function for a record change (ids in, one service call)."""

from celery import shared_task

from functions import services


@shared_task(name="functions.run_function", max_retries=0, time_limit=90)
def run_function(
    function_id: str, org_id: str, trigger: str, payload: dict, request_id: str = ""
) -> str | None:
    invocation = services.function_run_by_id(
        function_id=function_id,
        org_id=org_id,
        trigger=trigger,
        payload=payload,
        request_id=request_id,
    )
    return None if invocation is None else invocation.exit_reason
