"""Reads the realtime consumers make (synchronous; consumers wrap them for the event loop).

Each runs in a transaction of its own under the socket user's tenant context, so row-level
security shows a socket exactly what it shows that user's API requests.
"""

from uuid import UUID

from django.contrib.auth import get_user_model

from access import selectors as access_selectors
from datastore import selectors as data_selectors
from tenants import selectors as tenant_selectors
from tenants.context import TenantContext, tenant_context


def membership_for(*, user_id: int, org_ref: str):
    """The user's ``Membership`` (its ``org`` loaded) in the org named by slug or id, or None."""
    user = get_user_model().objects.filter(pk=user_id, is_active=True).first()
    if user is None:
        return None
    with tenant_context(TenantContext(user_id=user_id)):
        return tenant_selectors.membership_for(user=user, org_ref=str(org_ref))


def _uuid(value: str) -> UUID | None:
    try:
        return UUID(value)
    except ValueError:
        return None


def is_id(value: str) -> bool:
    return _uuid(value) is not None


def collection_for(*, membership, collection: str, project: str | None):
    """The record collection a subscription names, or None when the user cannot see it.

    ``collection`` is a collection id (then ``project``, when given, must be its project), or
    a collection name as in the data API's URLs, resolved within ``project`` (an id).
    """
    context = TenantContext(
        org_id=membership.org_id, user_id=membership.user_id, role=membership.role
    )
    with tenant_context(context):
        in_project = None
        if project is not None:
            project_id = _uuid(project)
            projects = tenant_selectors.project_list(org=membership.org)
            in_project = projects.filter(pk=project_id).first() if project_id else None
            if in_project is None:
                return None
        collection_id = _uuid(collection)
        if collection_id is None:  # a name: only meaningful within a project
            if in_project is None:
                return None
            return data_selectors.collection_get(
                org_id=membership.org_id, project_id=in_project.pk, name=collection
            )
        found = data_selectors.collection_by_id(
            org_id=membership.org_id, collection_id=collection_id
        )
        if found is None or (in_project is not None and found.project_id != in_project.pk):
            return None
        return found


# --- client apps: what a project's key (and end user) may see ----------------------------------
def client_collection_for(*, client, collection: str):
    """The record collection of the client's project named ``collection`` (a name, as in the
    client data API's URLs, or an id), or None."""
    with tenant_context(client.tenant_context()):
        collection_id = _uuid(collection)
        if collection_id is None:
            return data_selectors.collection_get(
                org_id=client.org_id, project_id=client.project_id, name=collection
            )
        found = data_selectors.collection_by_id(org_id=client.org_id, collection_id=collection_id)
        if found is None or found.project_id != client.project_id:
            return None
        return found


def client_rule(*, client, operation: str, collection_id=None, channel=None):
    """The rule the data API applies to this caller for ``operation`` on a collection (or a
    channel), read under the client's own row-level security; None: nobody."""
    with tenant_context(client.tenant_context()):
        return access_selectors.rule_for(
            project_id=client.project_id,
            operation=operation,
            client_role=client.role,
            resource_id=collection_id,
            channel=channel,
        )


def channel_rules(*, client, channel: str) -> tuple[bool, dict]:
    """(is the channel private, {operation: this caller's rule}) in one query. A channel is
    private once any access rule names it."""
    with tenant_context(client.tenant_context()):
        rules = list(access_selectors.rule_list(project=client.project, channel=channel).order_by())
    mine = {rule.operation: rule for rule in rules if rule.client_role == client.role}
    return bool(rules), mine
