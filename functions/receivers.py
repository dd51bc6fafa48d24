"""Record writes invoke the functions that listen to them (the data app's after-commit signal)."""

from django.utils import timezone

from datastore.selectors import collection_by_id
from datastore.signals import EVENT_NAMES
from functions import services
from tenants.context import TenantContext, tenant_context


def queue_record_functions(
    sender, *, org_id, project_id, collection_id, record_id, owner_id, op, data,
    request_id="", **kwargs,
) -> None:  # fmt: skip
    with tenant_context(TenantContext(org_id=org_id)):
        found = collection_by_id(org_id=org_id, collection_id=collection_id)
    collection = found.name if found is not None else ""
    event = EVENT_NAMES[op]
    services.record_functions_queue(
        org_id=org_id,
        project_id=project_id,
        collection=collection,
        event=event,
        payload={
            "type": event,
            "project_id": str(project_id),
            "collection": collection,
            "record": {"id": str(record_id), "owner_id": owner_id, "data": data},
            "occurred_at": timezone.now().isoformat(),
        },
        request_id=str(request_id),
    )
