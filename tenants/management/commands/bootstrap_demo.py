"""Create the demo org, its owner, a Studio superuser and a client-app demo project, once.

Passwords are random and printed once. The demo project ``todo-app`` gets a publishable and a
secret key, a ``todos`` collection whose rules let each signed-in end user read and write only
their own rows (anon: nothing), and open sign-up. Only the keys' hashes are stored, so their
clear text is never known again after it is printed: each run makes a key of each kind that
is missing and rotates the ones that exist, and prints the new ones.
"""

import secrets

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction

from access import selectors as access_selectors
from access import services as access_services
from access.constants import ClientRole, Operation, ResourceType, RuleKind
from datastore import selectors as data_selectors
from datastore import services as data_services
from endusers import selectors as enduser_selectors
from endusers.constants import SignupMode
from endusers.services import accounts as enduser_admin
from tenants import selectors, services
from tenants.context import TenantContext, tenant_context
from tenants.models import Organization, ProjectKey

DEMO_SLUG = "demo"
DEMO_PROJECT = "todo-app"
DEMO_COLLECTION = "todos"
DEMO_KEY_NAME = "demo"


class Command(BaseCommand):
    help = "Create a demo org with an owner, a Studio superuser and a demo client app (idempotent)."

    def handle(self, *args, **options) -> None:
        User = get_user_model()
        created = []
        with transaction.atomic():
            if not User.objects.filter(username="admin").exists():
                password = secrets.token_urlsafe(12)
                User.objects.create_superuser("admin", "admin@example.com", password)
                created.append(("Studio superuser", "admin", password))
            owner = User.objects.filter(username="owner@demo.example").first()
            if owner is None:
                password = secrets.token_urlsafe(12)
                owner = User.objects.create_user(
                    "owner@demo.example", "owner@demo.example", password
                )
                created.append(("Demo org owner", "owner@demo.example", password))
        with tenant_context(TenantContext(platform_admin=True)):
            exists = Organization.objects.filter(slug=DEMO_SLUG).exists()
        if not exists:
            services.org_create(actor=owner, name="Demo", slug=DEMO_SLUG)
        for role, login, password in created:
            self.stdout.write(f"{role}: {login} / {password}   (shown once)")
        if not created:
            self.stdout.write(
                "Demo org and users already exist (passwords were shown at creation)."
            )
        with tenant_context(TenantContext(user_id=owner.pk)):
            membership = selectors.membership_for(user=owner, org_ref=DEMO_SLUG)
        with tenant_context(
            TenantContext(org_id=membership.org_id, user_id=owner.pk, role=membership.role)
        ):
            project, keys = demo_client_app(membership)
        self.stdout.write(f"Demo client app: project {project.name}, ref {project.ref}")
        for kind, raw in keys:
            self.stdout.write(f"Demo {kind} key: {raw}   (shown once)")


def demo_client_app(membership) -> tuple[object, list[tuple[str, str]]]:
    """The demo project with its ``todos`` collection, owner-only rules and open sign-up, and
    a new clear text for each of its two keys."""
    project = selectors.project_list(org=membership.org).filter(name=DEMO_PROJECT).first()
    if project is None:
        project = services.project_create(
            membership=membership, name=DEMO_PROJECT, description="Client-app demo: to-dos"
        )
    collection = data_selectors.collection_get(
        org_id=project.org_id, project_id=project.id, name=DEMO_COLLECTION
    )
    if collection is None:
        collection = data_services.collection_create(
            membership=membership, project=project, name=DEMO_COLLECTION
        )
    for operation in Operation.values:
        rule = access_selectors.rule_for(
            project_id=project.id,
            operation=operation,
            client_role=ClientRole.AUTHENTICATED,
            resource_id=collection.id,
        )
        if rule is None or rule.kind != RuleKind.OWNER or rule.conditions:
            access_services.rule_set(
                membership=membership,
                project=project,
                resource_type=ResourceType.COLLECTION,
                resource_id=collection.id,
                operation=operation,
                client_role=ClientRole.AUTHENTICATED,
                kind=RuleKind.OWNER,
            )
    # Anon callers get no rule at all: nobody.
    current = enduser_selectors.auth_settings_for(project=project)
    if current._state.adding or current.signup != SignupMode.OPEN:  # not saved yet, or changed
        enduser_admin.auth_settings_update(
            membership=membership, project=project, signup=SignupMode.OPEN
        )
    keys = []
    live = selectors.api_key_list(project=project).filter(
        name=DEMO_KEY_NAME, revoked_at__isnull=True
    )
    for kind in (ProjectKey.Kind.PUBLISHABLE, ProjectKey.Kind.SECRET):
        existing = live.filter(kind=kind).first()
        if existing is None:
            _, raw = services.api_key_create(
                membership=membership, project=project, kind=kind, name=DEMO_KEY_NAME
            )
        else:  # its clear text was printed once and is not stored: a new one replaces it
            _, raw = services.api_key_rotate(membership=membership, key=existing)
        keys.append((kind, raw))
    return project, keys
