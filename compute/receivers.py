"""Record writes become webhook deliveries (the data app's after-commit signal)."""

from compute import services
from datastore.signals import EVENT_NAMES


def queue_record_webhooks(
    sender,
    *,
    org_id,
    project_id,
    collection_id,
    record_id,
    owner_id,
    op,
    data,
    request_id="",
    **kwargs,
) -> None:
    services.deliveries_queue(
        org_id=org_id,
        project_id=project_id,
        collection_id=collection_id,
        record_id=record_id,
        owner_id=owner_id,
        event=EVENT_NAMES[op],
        data=data,
        request_id=str(request_id),
    )


def queue_created_records_webhooks(
    sender, *, org_id, project_id, collection_id, owner_id, records, request_id="", **kwargs
) -> None:
    services.deliveries_queue_many(
        org_id=org_id,
        project_id=project_id,
        collection_id=collection_id,
        owner_id=owner_id,
        event=EVENT_NAMES["create"],
        records=records,
        request_id=str(request_id),
    )
