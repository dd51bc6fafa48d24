"""The Studio's database browser: org -> project -> collection -> records or documents.

Platform-level choices (which orgs and projects exist) are read with the Studio's platform
context; every look at data runs inside ``tenant_context`` of the chosen org, as an admin of
that org (so owner-only rows are visible, as they are to an org admin) and never with the
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
from tenants.constants import Role
from tenants.context import TenantContext, set_tenant_context, tenant_context
from tenants.models import Organization, Project

PAGE = 25


def _platform_context(request) -> None:
    set_tenant_context(TenantContext(user_id=request.user.pk, platform_admin=True))


def org_context(org: Organization, request) -> TenantContext:
    return TenantContext(org_id=org.id, user_id=request.user.pk, role=Role.ADMIN)


def browse(request):
    if not (request.user.is_active and request.user.is_superuser):
        raise PermissionDenied
    params = request.GET
    context = {**admin.site.each_context(request), "title": "Database browser"}
    _platform_context(request)
    context["orgs"] = list(Organization.objects.order_by("name"))
    org = next((o for o in context["orgs"] if o.slug == params.get("org")), None)
    if org is None:
        return TemplateResponse(request, "datastore/browser.html", context)
    context["org"] = org
    context["projects"] = list(Project.objects.filter(org=org).order_by("name"))
    project = next((p for p in context["projects"] if str(p.id) == params.get("project")), None)
    if project is None:
        return TemplateResponse(request, "datastore/browser.html", context)
    context["project"] = project
    try:
        with tenant_context(org_context(org, request)):
            context.update(_browse_project(request, project, params))
    except (filters.FilterError, documents.DocumentQueryError, ValueError) as exc:
        context["error"] = str(exc)
    finally:
        _platform_context(request)
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
