"""Other apps' after-commit signals, relayed to sockets: record writes become change events,
revoked sessions close, membership changes narrow the member's sockets."""

from datastore.signals import EVENT_NAMES
from realtime.events import (
    disconnect_session,
    membership_changed,
    publish_change,
    publish_changes,
)


def relay_record_change(
    sender,
    *,
    org_id,
    project_id,
    collection_id,
    record_id,
    owner_id,
    owner_only,
    op,
    data,
    **kwargs,
) -> None:
    publish_change(
        org_id=org_id,
        project_id=project_id,
        collection_id=collection_id,
        record_id=record_id,
        owner_id=owner_id,
        end_user_id=kwargs.get("end_user_id"),
        owner_only=owner_only,
        op=EVENT_NAMES[op],
        record={**data, "id": str(record_id)},
        data=data,
        stamps={"created_at": kwargs.get("created_at"), "updated_at": kwargs.get("updated_at")},
    )


def relay_created_records(
    sender, *, org_id, project_id, collection_id, owner_id, owner_only, records, **kwargs
) -> None:
    publish_changes(
        org_id=org_id,
        project_id=project_id,
        collection_id=collection_id,
        owner_id=owner_id,
        owner_only=owner_only,
        end_user_id=kwargs.get("end_user_id"),
        op=EVENT_NAMES["create"],
        changes=[({**data, "id": str(record_id)}, data) for record_id, data in records],
    )


def close_revoked_sessions(sender, *, session_ids, **kwargs) -> None:
    for session_id in session_ids:
        disconnect_session(session_id)


def narrow_member_sockets(sender, *, org_id, user_id, **kwargs) -> None:
    membership_changed(user_id, org_id)
