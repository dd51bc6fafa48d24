"""Record writes invoke the functions that listen to them (the data app's after-commit
signals: ``record_changed`` for one write, ``records_created`` for a bulk create)."""

from django.utils import timezone

from datastore.selectors import collection_by_id
from datastore.signals import EVENT_NAMES
from functions import selectors, services
from tenants.context import TenantContext, tenant_context


def _collection_name(org_id, collection_id) -> str:
    with tenant_context(TenantContext(org_id=org_id)):
        found = collection_by_id(org_id=org_id, collection_id=collection_id)
    return found.name if found is not None else ""


def _payload(event, project_id, collection, record_id, owner_id, data) -> dict:
    return {
        "type": event,
        "project_id": str(project_id),
        "collection": collection,
        "record": {"id": str(record_id), "owner_id": owner_id, "data": data},
        "occurred_at": timezone.now().isoformat(),
    }


def queue_record_functions(
    sender, *, org_id, project_id, collection_id, record_id, owner_id, op, data,
    request_id="", **kwargs,
) -> None:  # fmt: skip
    if not selectors.project_has_record_functions(org_id=org_id, project_id=project_id):
        return
    collection = _collection_name(org_id, collection_id)
    event = EVENT_NAMES[op]
    services.record_functions_queue(
        org_id=org_id,
        project_id=project_id,
        collection=collection,
        event=event,
        payloads=[_payload(event, project_id, collection, record_id, owner_id, data)],
        request_id=str(request_id),
    )


def queue_created_records_functions(
    sender, *, org_id, project_id, collection_id, owner_id, records, request_id="", **kwargs
) -> None:
    if not selectors.project_has_record_functions(org_id=org_id, project_id=project_id):
        return
    collection = _collection_name(org_id, collection_id)
    event = EVENT_NAMES["create"]
    services.record_functions_queue(
        org_id=org_id,
        project_id=project_id,
        collection=collection,
        event=event,
        payloads=[
            _payload(event, project_id, collection, record_id, owner_id, data)
            for record_id, data in records
        ],
        request_id=str(request_id),
    )
