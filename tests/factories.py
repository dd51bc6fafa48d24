from dataclasses import dataclass

import factory
from django.contrib.auth import get_user_model

PASSWORD = "correct horse battery"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()

    username = factory.Sequence(lambda n: f"user{n}@example.com")
    email = factory.SelfAttribute("username")
    password = factory.django.Password(PASSWORD)


@dataclass(frozen=True)
class ClientAppWorld:
    """What a client app's request needs: a publishable key of the project, a collection whose
    rules open it to an end user's own rows, and a signed-in end user."""

    key: object  # the ApiKey row
    raw_key: str
    collection: object
    end_user: object
    token: str  # the end user's access token


def owner_only_client_app(
    owner, project, *, name: str = "todos", operations=("select", "insert")
) -> ClientAppWorld:
    """Made as ``owner`` (a membership) in transactions of its own, or savepoints of the
    caller's, which keeps its tenant context."""
    from access import services as access_services
    from datastore import services as data_services
    from endusers.models import EndUser
    from endusers.services.sessions import end_user_session_start
    from tenants import services as tenant_services
    from tenants.context import TenantContext, tenant_context

    as_owner = TenantContext(org_id=owner.org_id, user_id=owner.user_id, role=owner.role)
    with tenant_context(as_owner):
        key, raw_key = tenant_services.api_key_create(
            membership=owner, project=project, kind="publishable"
        )
        collection = data_services.collection_create(membership=owner, project=project, name=name)
        for operation in operations:
            access_services.rule_set(
                membership=owner,
                project=project,
                resource_type="collection",
                resource_id=collection.id,
                operation=operation,
                client_role="authenticated",
                kind="owner",
            )
    service = TenantContext(org_id=owner.org_id, project_id=project.id, client_role="service_role")
    with tenant_context(service):
        end_user = EndUser.objects.create(
            org_id=owner.org_id, project=project, email="e@example.com"
        )
    token = end_user_session_start(project=project, end_user=end_user).access_token
    return ClientAppWorld(key, raw_key, collection, end_user, token)
