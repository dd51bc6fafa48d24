"""A project's Studio pages: API keys, Authentication (end users, their sessions, sign-up
settings) and access rules.

They live under ``/studio/o/<org>/p/<project>/``, where the tenant middleware has checked the
membership and set the org's RLS context (a foreign org is a 404). Each page names the
permission it needs to be read and the one it needs to be changed (``tenants.permissions``);
platform staff who are not members of the org read the pages and change nothing. Every
change goes through the owning app's service, which checks the permission again, writes in
one transaction and records the audit row.
"""

import json
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db import transaction
from django.http import Http404, HttpResponseRedirect, QueryDict
from django.template.response import TemplateResponse
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.cache import add_never_cache_headers

from access import selectors as access_selectors
from access import services as access_services
from access.constants import CHANNEL_OPERATIONS, ClientRole, Operation, ResourceType
from access.policies import describe_rule
from cache.breaker import RedisUnavailable
from datastore import filters
from datastore import selectors as datastore_selectors
from datastore.constants import Store
from datastore.selectors import collection_list
from endusers import selectors as enduser_selectors
from endusers.identity import ClientIdentity
from endusers.services import accounts as enduser_admin
from storage import selectors as storage_selectors
from storage.selectors import bucket_list
from studio import selectors as studio_selectors
from studio.forms import (
    ApiKeyCreateForm,
    AppRolesForm,
    AuthSettingsForm,
    EndUserBanForm,
    LogFilterForm,
    RulesForm,
    TestAsForm,
)
from studio.selectors import is_platform_staff
from tenants import selectors as tenant_selectors
from tenants import services as tenant_services
from tenants.constants import (
    CHANGE_ACCESS_RULES,
    CHANGE_PROJECT,
    MANAGE_API_KEYS,
    MANAGE_END_USERS,
    USE_STUDIO,
    VIEW_END_USERS,
    VIEW_PROJECT,
)
from tenants.context import tenant_context
from tenants.permissions import has_org_perm

END_USERS_PAGE = 50
RULE_RESOURCES = {ResourceType.COLLECTION: collection_list, ResourceType.BUCKET: bucket_list}
RULE_ROLES = (ClientRole.ANON, ClientRole.AUTHENTICATED)
CHANNEL_NAME = re.compile(r"[A-Za-z0-9_:.\-]{1,120}")


@dataclass(frozen=True)
class ProjectPage:
    org: object
    project: object
    membership: object
    can_write: bool


def _page(request, org: str, project: uuid.UUID, *, read: str, write: str) -> ProjectPage:
    """The project, if this Studio user may read the page (404 outside their orgs, 403 without
    the read permission); writes refused (403) without ``write``."""
    membership = request.membership
    staff = is_platform_staff(request.user)
    if request.org is None or (not staff and not has_org_perm(membership, USE_STUDIO)):
        raise Http404("No such organization.")
    found = tenant_selectors.project_list(org=request.org).filter(pk=project).first()
    if found is None:
        raise Http404("No such project.")
    if membership is None:  # platform staff outside the org: read-only
        can_write = False
    else:
        if not has_org_perm(membership, read, found):
            raise PermissionDenied
        can_write = has_org_perm(membership, write, found)
    if request.method == "POST" and not can_write:
        raise PermissionDenied
    return ProjectPage(request.org, found, membership, can_write)


def _render(request, template: str, page: ProjectPage, title: str, status=200, **context):
    response = TemplateResponse(
        request,
        template,
        {
            **admin.site.each_context(request),
            "title": title,
            "subtitle": page.project.name,
            "org": page.org,
            "project": page.project,
            "can_write": page.can_write,
            "sections": _sections(page, request.path),
            **context,
        },
        status=status,
    )
    return response


def _url(name: str, page: ProjectPage, *args) -> str:
    return reverse(f"admin:{name}", args=[page.org.slug, page.project.id, *args])


# The project's navigation: (label, URL name, path below the project home). The table editor,
# storage browser and functions pages register the ``studio:`` names; until they do, their
# links are the path below the home, so a missing page is a 404, never a NoReverseMatch.
SECTIONS = [
    ("Home", "admin:studio-project-home", ""),
    ("Table editor", "studio:project-table", "table/"),
    ("Authentication", "admin:studio-project-auth", "auth/"),
    ("API keys", "admin:studio-project-keys", "keys/"),
    ("Rules", "admin:studio-project-rules", "rules/"),
    ("Storage", "studio:project-storage", "storage/"),
    ("Functions", "studio:project-functions", "functions/"),
    ("Logs", "admin:studio-project-logs", "logs/"),
]


def _sections(page: ProjectPage, path: str) -> list[dict]:
    home = _url("studio-project-home", page)
    items = []
    for label, name, below in SECTIONS:
        try:
            url = reverse(name, args=[page.org.slug, page.project.id])
        except NoReverseMatch:
            url = home + below
        active = path == url if not below else path.startswith(url)
        items.append({"label": label, "url": url, "active": active})
    return items


def _posted(request):
    """The form data of a POST (an empty one included: a bound form says what is missing)."""
    return request.POST if request.method == "POST" else None


def _form_errors(form, exc: ValidationError, prefix: str = "") -> None:
    for field, errors in exc.message_dict.items():
        name = f"{prefix}{field}"
        form.add_error(name if name in form.fields else None, errors)


# --- API keys --------------------------------------------------------------------------------
def keys(request, org, project):
    page = _page(request, org, project, read=MANAGE_API_KEYS, write=MANAGE_API_KEYS)
    form = ApiKeyCreateForm(_posted(request))
    if request.method == "POST" and form.is_valid():
        try:
            key, raw = tenant_services.api_key_create(
                membership=page.membership, project=page.project, **form.cleaned_data
            )
        except ValidationError as exc:
            _form_errors(form, exc)
        else:
            return _key_shown_once(request, page, key, raw)
    rows = tenant_selectors.api_key_list(project=page.project)
    return _render(request, "studio/project/keys.html", page, "API keys", form=form, keys=rows)


def _key_shown_once(request, page: ProjectPage, key, raw: str):
    """The answer to the POST that made the key: its only copy in clear, never cached."""
    response = _render(
        request, "studio/project/key_created.html", page, "New API key", key=key, raw_key=raw
    )
    add_never_cache_headers(response)
    return response


def _key(page: ProjectPage, key_id):
    key = tenant_selectors.api_key_list(project=page.project).filter(pk=key_id).first()
    if key is None:
        raise Http404("No such key.")
    return key


def key_revoke(request, org, project, key):
    page = _page(request, org, project, read=MANAGE_API_KEYS, write=MANAGE_API_KEYS)
    if request.method != "POST":
        raise PermissionDenied
    found = _key(page, key)
    tenant_services.api_key_revoke(membership=page.membership, key=found)
    messages.success(request, f"Key {found.prefix}… revoked: it is refused from now on.")
    return HttpResponseRedirect(_url("studio-project-keys", page))


def key_rotate(request, org, project, key):
    page = _page(request, org, project, read=MANAGE_API_KEYS, write=MANAGE_API_KEYS)
    if request.method != "POST":
        raise PermissionDenied
    found = _key(page, key)
    if found.revoked_at is not None:
        messages.error(request, "A revoked key cannot be rotated; create a new one.")
        return HttpResponseRedirect(_url("studio-project-keys", page))
    new_key, raw = tenant_services.api_key_rotate(membership=page.membership, key=found)
    return _key_shown_once(request, page, new_key, raw)


# --- Authentication --------------------------------------------------------------------------
def end_users(request, org, project):
    page = _page(request, org, project, read=VIEW_END_USERS, write=MANAGE_END_USERS)
    search = request.GET.get("q", "")
    paginator = Paginator(
        enduser_selectors.end_user_list(project=page.project, search=search), END_USERS_PAGE
    )
    listing = paginator.get_page(request.GET.get("page"))
    return _render(
        request,
        "studio/project/end_users.html",
        page,
        "Authentication",
        search=search,
        listing=listing,
        now=timezone.now(),
    )


def end_user_detail(request, org, project, end_user):
    page = _page(request, org, project, read=VIEW_END_USERS, write=MANAGE_END_USERS)
    found = enduser_selectors.end_user_get(project=page.project, end_user_id=end_user)
    if found is None:
        raise Http404("No such end user.")
    action = request.POST.get("action")
    ban_form = EndUserBanForm(request.POST if action == "ban" else None)
    roles_form = AppRolesForm(
        request.POST if action == "roles" else None,
        initial={"roles": ", ".join(found.app_roles)},
    )
    if request.method == "POST":
        done = _end_user_action(request, page, found, ban_form, roles_form)
        if done:
            return HttpResponseRedirect(_url("studio-project-end-user", page, found.pk), status=303)
    return _render(
        request,
        "studio/project/end_user.html",
        page,
        found.email or "Anonymous end user",
        end_user=found,
        sessions=_live_sessions(page, found),
        ban_form=ban_form,
        roles_form=roles_form,
        now=timezone.now(),
    )


def _live_sessions(page: ProjectPage, end_user) -> list:
    return list(
        enduser_selectors.end_user_session_list(project=page.project, end_user=end_user)[:100]
    )


def _end_user_action(request, page: ProjectPage, end_user, ban_form, roles_form) -> bool:
    action = request.POST.get("action")
    who = {"project": page.project, "end_user": end_user, "membership": page.membership}
    try:
        if action == "revoke_sessions":
            count = enduser_admin.end_user_sessions_revoke(**who)
            messages.success(request, f"{count} session(s) revoked.")
        elif action == "ban":
            if not ban_form.is_valid():
                return False
            until = timezone.now() + timedelta(hours=ban_form.cleaned_data["hours"])
            enduser_admin.end_user_admin_update(**who, banned_until=until)
            messages.success(request, "Banned; every session of this end user has ended.")
        elif action == "unban":
            enduser_admin.end_user_admin_update(**who, banned_until=None)
            messages.success(request, "Unbanned.")
        elif action == "roles":
            if not roles_form.is_valid():
                return False
            metadata = {**(end_user.app_metadata or {}), "roles": roles_form.cleaned_data["roles"]}
            enduser_admin.end_user_admin_update(**who, app_metadata=metadata)
            messages.success(
                request, "App roles saved; they reach the end user's next access token."
            )
        elif action == "confirm_email":
            enduser_admin.end_user_admin_update(**who, email_confirmed=True)
            messages.success(request, "Email confirmed.")
        else:
            messages.error(request, "Unknown action.")
            return False
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return False
    return True


def auth_settings(request, org, project):
    page = _page(request, org, project, read=VIEW_PROJECT, write=MANAGE_END_USERS)
    current = enduser_selectors.auth_settings_for(project=page.project)
    initial = {
        "signup": current.signup,
        "anonymous_sign_in": current.anonymous_sign_in,
        "site_url": current.site_url,
    }
    form = AuthSettingsForm(_posted(request), initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            enduser_admin.auth_settings_update(
                membership=page.membership, project=page.project, **form.cleaned_data
            )
        except ValidationError as exc:
            _form_errors(form, exc)
        else:
            messages.success(request, "Sign-up settings saved.")
            return HttpResponseRedirect(_url("studio-project-auth-settings", page), status=303)
    return _render(
        request, "studio/project/auth_settings.html", page, "Sign-up settings", form=form
    )


# --- Rules -----------------------------------------------------------------------------------
def rules(request, org, project):
    page = _page(request, org, project, read=VIEW_PROJECT, write=CHANGE_ACCESS_RULES)
    channel = request.GET.get("channel", "").strip()
    if channel:  # "open a channel's rules": the service checks the name when one is saved
        if not CHANNEL_NAME.fullmatch(channel):
            messages.error(request, "A channel name: letters, digits and _ : - . (max 120).")
        else:
            return HttpResponseRedirect(_url("studio-project-channel-rules", page, channel))
    counts: dict = {}
    channels: dict = {}
    for rule in access_selectors.rule_list(project=page.project):
        allowing = rule.kind != "nobody"
        if rule.resource_type == ResourceType.CHANNEL:
            channels[rule.channel] = channels.get(rule.channel, 0) + allowing
        else:
            counts[rule.resource_id] = counts.get(rule.resource_id, 0) + allowing
    resources = [
        {
            "type": resource_type,
            "label": resource_type.label,
            "items": [
                {"obj": obj, "allowing": counts.get(obj.pk, 0)}
                for obj in select(project=page.project)
            ],
        }
        for resource_type, select in RULE_RESOURCES.items()
    ]
    return _render(
        request,
        "studio/project/rules.html",
        page,
        "Rules",
        resources=resources,
        channels=sorted(channels.items()),
    )


NO_RULE = "false (no rule: nobody)"


def _policy(rule) -> str:
    return NO_RULE if rule is None else describe_rule(rule)


def _cell_state(rule) -> dict:
    if rule is None:
        return {"kind": "nobody", "app_role": "", "conditions": []}
    return {"kind": rule.kind, "app_role": rule.app_role, "conditions": list(rule.conditions)}


def resource_rules(request, org, project, resource_type, resource_id):
    page = _page(request, org, project, read=VIEW_PROJECT, write=CHANGE_ACCESS_RULES)
    if resource_type not in RULE_RESOURCES:
        raise Http404("No such resource type.")
    resource = RULE_RESOURCES[resource_type](project=page.project).filter(pk=resource_id).first()
    if resource is None:
        raise Http404(f"No such {resource_type}.")
    url = _url("studio-project-resource-rules", page, resource_type, resource.pk)
    done, rows, form = _rules_form(
        request, page, resource_type, {"resource_id": resource.pk}, Operation.values, url
    )
    if done is not None:
        return done
    test_form, tested = None, None
    # Running as an end user reads what that end user may: only for those who may change
    # the rules, whom RLS already shows every row (``PRIVILEGED_ROLES``).
    testable = resource_type == ResourceType.BUCKET or resource.store == Store.RECORDS
    if page.can_write and testable:
        test_form = TestAsForm(request.GET if "who" in request.GET else None)
        if resource_type == ResourceType.BUCKET:
            test_form.fields["query"].label = "Key prefix"
            test_form.fields["query"].help_text = "The storage API's list: keys starting with"
        if test_form.is_valid():
            tested = _test_as(page, resource_type, resource, test_form)
    return _render(
        request,
        "studio/project/resource_rules.html",
        page,
        f"Rules of {resource.name}",
        form=form,
        rows=rows,
        roles=RULE_ROLES,
        resource=resource,
        resource_type=ResourceType(resource_type),
        test_form=test_form,
        tested=tested,
        end_users=enduser_selectors.end_user_list(project=page.project)[:50],
    )


def _test_as(page: ProjectPage, resource_type: str, resource, form) -> dict | None:
    """The data API's list query of a collection, or the storage API's list of a bucket, as
    a client app would run it (anon, or an end user of the project with its app roles): the
    same selectors, under the client's RLS context in a savepoint that is rolled back, so
    nothing it does stays. None with the errors on the form."""
    who = form.cleaned_data["who"]
    end_user = None
    if who != ClientRole.ANON:
        try:
            end_user = enduser_selectors.end_user_get(
                project=page.project, end_user_id=uuid.UUID(who)
            )
        except ValueError:
            end_user = None
        if end_user is None:
            form.add_error("who", "anon, or one of the project's end users.")
            return None
    query = None
    if resource_type == ResourceType.COLLECTION:
        try:
            query = filters.parse_list_query(QueryDict(form.cleaned_data["query"]))
        except filters.FilterError as exc:
            form.add_error("query", str(exc))
            return None
    identity = ClientIdentity(
        project=page.project,
        key=None,
        role=ClientRole.AUTHENTICATED if end_user else ClientRole.ANON,
        end_user_id=end_user.pk if end_user else None,
        app_roles=end_user.app_roles if end_user else (),
    )
    result: dict = {"who": end_user.email if end_user else "anon", "records": []}
    try:
        with tenant_context(identity.tenant_context()):
            if query is None:
                result.update(_bucket_as(identity, resource, form.cleaned_data["query"]))
                raise _Rollback
            target = datastore_selectors.collection_for_client(client=identity, name=resource.name)
            if target is not None:
                records, _, count = datastore_selectors.record_list(
                    collection=target, query=query, client=identity
                )
                result["records"] = [
                    {
                        "id": r.pk,
                        "data": json.dumps(filters.select_fields(r.data, query.fields)),
                    }
                    for r in records
                ]
                result["count"] = count
            raise _Rollback
    except _Rollback:
        pass
    return result


def _bucket_as(identity, bucket, prefix: str) -> dict:
    """What ``GET /client/v1/storage/<bucket>/`` answers the client: 404 for a bucket it
    cannot see, 403 when the select rule refuses, else the objects it sees."""
    found = storage_selectors.bucket_get(project=identity.project, name=bucket.name)
    if found is None:
        return {"refused": "404: the bucket is not there for this caller."}
    if not storage_selectors.client_rule_opens(client=identity, bucket=found, operation="select"):
        return {"refused": "403: the access rules do not allow listing this bucket."}
    objects = storage_selectors.object_list(bucket=found, prefix=prefix[:500])[:100]
    return {"records": [{"id": o.key, "data": f"{o.size} bytes"} for o in objects]}


def channel_rules(request, org, project, channel):
    """A private realtime channel's rules (channels are named, not stored: a channel has
    rules once one is saved)."""
    page = _page(request, org, project, read=VIEW_PROJECT, write=CHANGE_ACCESS_RULES)
    url = _url("studio-project-channel-rules", page, channel)
    done, rows, form = _rules_form(
        request, page, ResourceType.CHANNEL, {"channel": channel}, CHANNEL_OPERATIONS, url
    )
    if done is not None:
        return done
    return _render(
        request,
        "studio/project/resource_rules.html",
        page,
        f"Rules of channel {channel}",
        form=form,
        rows=rows,
        roles=RULE_ROLES,
        resource={"name": channel},
        resource_type=ResourceType.CHANNEL,
    )


def _rules_form(request, page, resource_type, target: dict, operations, url):
    """The rules form of one resource (``target``: its ``resource_id`` or ``channel``):
    (a redirect once saved, or None; the table's rows; the form)."""
    existing = {
        (r.operation, r.client_role): r
        for r in access_selectors.rule_list(
            project=page.project, resource_type=resource_type, **target
        )
    }
    initial = {}
    for (operation, role), rule in existing.items():
        state = _cell_state(rule)
        prefix = f"{operation}-{role}"
        initial.update(
            {
                f"{prefix}-kind": state["kind"],
                f"{prefix}-app_role": state["app_role"],
                f"{prefix}-conditions": "\n".join(state["conditions"]),
            }
        )
    form = RulesForm(_posted(request), initial=initial, operations=operations, roles=RULE_ROLES)
    if request.method == "POST" and form.is_valid():
        saved = _save_rules(page, resource_type, target, form, existing)
        if saved is not None:
            messages.success(request, f"{saved} rule(s) saved.")
            return HttpResponseRedirect(url, status=303), [], form
    rows = [
        {
            "operation": operation,
            "cells": [
                {
                    "role": role,
                    "kind": form[f"{operation}-{role}-kind"],
                    "app_role": form[f"{operation}-{role}-app_role"],
                    "conditions": form[f"{operation}-{role}-conditions"],
                    "policy": _policy(existing.get((operation, role))),
                }
                for role in RULE_ROLES
            ],
        }
        for operation in operations
    ]
    return None, rows, form


class _Rollback(Exception):
    pass


def _save_rules(page, resource_type, target: dict, form, existing) -> int | None:
    """Every changed cell through ``rule_set``, all or none: the number saved, or None with
    the errors on the form."""
    saved = 0
    try:
        with transaction.atomic():
            for operation, role, prefix in form.cells:
                wanted = form.cell_values(prefix)
                if wanted == _cell_state(existing.get((operation, role))):
                    continue
                try:
                    with transaction.atomic():
                        access_services.rule_set(
                            membership=page.membership,
                            project=page.project,
                            resource_type=resource_type,
                            operation=operation,
                            client_role=role,
                            **target,
                            **wanted,
                        )
                    saved += 1
                except ValidationError as exc:
                    _form_errors(form, exc, prefix=f"{prefix}-")
            if form.errors:
                raise _Rollback
    except _Rollback:
        return None
    return saved


# --- Home ------------------------------------------------------------------------------------
def home(request, org, project):
    """The project's URLs, keys (prefixes only: a key is stored as a hash, shown once), the
    supabase-js and curl snippets, and the last 24 hours' usage."""
    page = _page(request, org, project, read=VIEW_PROJECT, write=MANAGE_API_KEYS)
    root = request.build_absolute_uri("/").rstrip("/")
    live = tenant_selectors.api_key_list(project=page.project).filter(revoked_at__isnull=True)
    publishable = [k for k in live if k.kind == "publishable"]
    secret = [k for k in live if k.kind == "secret"]
    shown = f"{publishable[0].prefix}…" if publishable else "<publishable key>"
    return _render(
        request,
        "studio/project/home.html",
        page,
        page.project.name,
        url=root,
        ref_url=f"{root}/p/{page.project.ref}",
        publishable=publishable,
        secret=secret,
        key_hint=shown,
        usage=studio_selectors.project_usage(project=page.project),
    )


# --- Logs ------------------------------------------------------------------------------------
LOG_PAGE = 100


def logs(request, org, project):
    """The project's client requests (``observability.request_log``), filtered by status,
    route, end user and request id; a 5xx links to its error group."""
    page = _page(request, org, project, read=VIEW_PROJECT, write=CHANGE_PROJECT)
    form = LogFilterForm(request.GET or None)
    wanted = form.cleaned_data if form.is_valid() else {}
    try:
        rows, scanned = studio_selectors.project_requests(project=page.project, **wanted)
        unavailable = False
    except RedisUnavailable:
        rows, scanned, unavailable = [], 0, True
    rows = rows[:LOG_PAGE]
    groups = studio_selectors.error_groups_of(
        org=page.org, request_ids=[r["request_id"] for r in rows if r["status"].startswith("5")]
    )
    staff = is_platform_staff(request.user)
    for row in rows:
        group = groups.get(row["request_id"])
        row["error_group"] = group
        if group is not None and staff:
            row["error_url"] = reverse("admin:observability_errorgroup_change", args=[group.pk])
        row["at_dt"] = datetime.fromtimestamp(row["at"], tz=UTC)
    return _render(
        request,
        "studio/project/logs.html",
        page,
        "Logs",
        form=form,
        rows=rows,
        scanned=scanned,
        unavailable=unavailable,
    )
