"""Signal receivers: committed record changes from the data app become realtime events."""

from realtime.events import publish_change


def on_record_changed(sender, *, org_id, collection_id, op, data=None, owner_id=None,
                      project_id=None, **kwargs) -> None:  # fmt: skip
    record = dict(data or {})
    record_id = kwargs.get("record_id", kwargs.get("id", record.get("id")))
    publish_change(
        org_id=org_id,
        project_id=project_id,
        collection_id=collection_id,
        op=op,
        record=record,
        record_id=record_id,
        owner_id=owner_id,
        owner_only=kwargs.get("owner_only"),
    )
