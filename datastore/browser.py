"""The Studio's database browser: org -> project -> collection -> records or documents.

Which orgs are offered depends on who browses: platform staff see every org (read with the
Studio's platform context), an org owner/admin only the orgs they administer. Every look at
projects and data runs inside ``tenant_context`` of the chosen org, as an admin of that org
(so owner-only rows are visible, as they are to an org admin) and never with the
platform-admin flag: the app role and the RLS policies decide what is returned.
"""

import json
from types import SimpleNamespace

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.template.response import TemplateResponse

from datastore import documents, filters, selectors
from datastore.constants import Store
from studio.selectors import administered_memberships, is_platform_staff
from tenants.constants import Role
from tenants.context import TenantContext, set_tenant_context, tenant_context
from tenants.models import Organization, Project

PAGE = 25


def _org_contexts(request) -> tuple[list[Organization], dict]:
    """The orgs this Studio user may browse, and the RLS context to browse each one in.

    Platform staff browse any org, as an admin of it; an org owner/admin browses only the
    orgs they administer, with their own role. Never the platform-admin flag for data.
    """
    user = request.user
    if is_platform_staff(user):
        set_tenant_context(TenantContext(user_id=user.pk, platform_admin=True))
        orgs = list(Organization.objects.order_by("name"))
        return orgs, {
            o.pk: TenantContext(org_id=o.id, user_id=user.pk, role=Role.ADMIN) for o in orgs
        }
    memberships = list(administered_memberships(user=user))
    return [m.org for m in memberships], {
        m.org_id: TenantContext(org_id=m.org_id, user_id=user.pk, role=m.role) for m in memberships
    }


def browse(request):
    if not request.user.is_active:
        raise PermissionDenied
    params = request.GET
    context = {**admin.site.each_context(request), "title": "Database browser"}
    orgs, contexts = _org_contexts(request)
    context["orgs"] = orgs
    org = next((o for o in orgs if o.slug == params.get("org")), None)
    if org is None:
        if params.get("org"):
            raise Http404("No such organization.")
        return TemplateResponse(request, "datastore/browser.html", context)
    context["org"] = org
    with tenant_context(contexts[org.pk]):
        context["projects"] = list(Project.objects.filter(org=org).order_by("name"))
        project = next((p for p in context["projects"] if str(p.id) == params.get("project")), None)
        if project is None:
            return TemplateResponse(request, "datastore/browser.html", context)
        context["project"] = project
        try:
            context.update(_browse_project(request, project, params))
        except (filters.FilterError, documents.DocumentQueryError, ValueError) as exc:
            context["error"] = str(exc)
    return TemplateResponse(request, "datastore/browser.html", context)


def _browse_project(request, project, params) -> dict:
    out: dict = {"collections": list(selectors.collection_list(project=project))}
    collection = next(
        (
            c
            for c in out["collections"]
            if c.name == params.get("collection") and c.store == params.get("store")
        ),
        None,
    )
    if collection is None:
        return out
    out["collection"] = collection
    if collection.store == Store.RECORDS:
        out.update(_records(collection, params))
    else:
        out.update(_documents(collection, params, request))
    return out


def _pretty(value) -> str:
    return json.dumps(value, indent=2, sort_keys=True, default=str)


def _records(collection, params) -> dict:
    if params.get("record"):
        record = selectors.record_get(collection=collection, record_id=params["record"])
        if record is None:
            raise Http404
        return {"item": record, "item_json": _pretty(record.data)}
    query = filters.parse_list_query(
        {
            "filter": [f for f in params.get("filter", "").splitlines() if f.strip()],
            **({"cursor": [params["cursor"]]} if params.get("cursor") else {}),
            **({"order": [params["order"]]} if params.get("order") else {}),
            "limit": [str(PAGE)],
            "count": ["true"],
        }
    )
    rows, next_cursor, count = selectors.record_list(collection=collection, query=query)
    return {
        "rows": [
            {
                "id": r.id,
                "owner_id": r.owner_id,
                "updated_at": r.updated_at,
                "preview": json.dumps(r.data, default=str)[:160],
            }
            for r in rows
        ],
        "next_cursor": next_cursor,
        "count": count,
        "filter_text": params.get("filter", ""),
    }


def _documents(collection, params, request) -> dict:
    member = SimpleNamespace(org_id=collection.org_id, user_id=request.user.pk, role=Role.ADMIN)
    repository = documents.TenantDocuments(collection=collection, membership=member)
    if params.get("record"):
        doc = repository.get(params["record"])
        if doc is None:
            raise Http404
        return {"item": SimpleNamespace(id=doc["id"]), "item_json": _pretty(doc)}
    text = params.get("filter", "").strip()
    query = json.loads(text) if text else None
    skip = int(params.get("skip") or 0)
    rows = repository.find(query, limit=PAGE, skip=skip)
    return {
        "rows": [
            {
                "id": d["id"],
                "owner_id": d["owner_id"],
                "updated_at": d["updated_at"],
                "preview": json.dumps(d["data"], default=str)[:160],
            }
            for d in rows
        ],
        "count": repository.count(query),
        "next_skip": skip + PAGE if len(rows) == PAGE else None,
        "filter_text": text,
    }
