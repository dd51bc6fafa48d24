"""supabase-js's database client against ``/rest/v1`` on a live server, in both URL forms
(``js/rest.test.mjs``). The demo project has ``todos`` (owner-only rules); this adds
``posts``, typed by a JSON Schema, whose published rows anon may read."""

import pytest
from django.contrib.auth import get_user_model

from access import services as access_services
from datastore import services as data_services
from tenants import selectors
from tenants.context import TenantContext, tenant_context
from tests.compat.conftest import URL_FORMS

POSTS_SCHEMA = {
    "type": "object",
    "properties": {
        "title": {"type": "string"},
        "stars": {"type": "integer"},
        "published": {"type": "boolean"},
    },
}


def add_published_posts() -> None:
    owner = get_user_model().objects.get(username="owner@demo.example")
    with tenant_context(TenantContext(user_id=owner.pk)):
        membership = selectors.membership_for(user=owner, org_ref="demo")
    context = TenantContext(org_id=membership.org_id, user_id=owner.pk, role=membership.role)
    with tenant_context(context):
        project = selectors.project_list(org=membership.org).get(name="todo-app")
        posts = data_services.collection_create(
            membership=membership, project=project, name="posts", json_schema=POSTS_SCHEMA
        )
        access_services.rule_set(
            membership=membership,
            project=project,
            resource_type="collection",
            resource_id=posts.id,
            operation="select",
            client_role="anon",
            kind="everyone",
            conditions=["published:eq:true"],
        )


@pytest.mark.slow
@pytest.mark.parametrize("form", URL_FORMS)
def test_supabase_js_database_client(demo, form):
    add_published_posts()
    output = demo.node("rest.test.mjs", form)
    assert "fail 0" in output, output[-3000:]
