"""The storage browser: a project's buckets, their folders and files; upload, download, a
signed link, delete.

Everything goes through ``storage.selectors`` / ``storage.services`` with the signed-in
member's membership, under the RLS context the tenant middleware set (the services check the
permission again and write the audit rows). Folders are key prefixes up to a ``/``, as in the
storage API. Downloads are served by ``storage.delivery`` (the platform's one way of sending
object bytes: sandboxed, attachment unless inert). Reading needs ``VIEW_DATA``; uploads and
deletes ``WRITE_DATA``; a new bucket ``MANAGE_BUCKETS``.
"""

from dataclasses import replace

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponseRedirect
from django.urls import reverse
from django.utils.cache import add_never_cache_headers
from django.utils.http import urlencode
from django.views.decorators.http import require_GET, require_POST

from storage import delivery, selectors, services
from studio.projects import ProjectPage, _page, _render
from tenants.constants import MANAGE_BUCKETS, VIEW_DATA, WRITE_DATA
from tenants.permissions import has_org_perm
from tenants.replicas import lag_tolerant

LISTED = 1000
SIGNED_LIFETIMES = ((3600, "1 hour"), (86400, "1 day"), (7 * 86400, "7 days"))


def _url(name: str, page: ProjectPage, *args, **query) -> str:
    url = reverse(f"studio:{name}", args=[page.org.slug, page.project.id, *args])
    return f"{url}?{urlencode(query)}" if query else url


def _bucket(page: ProjectPage, name: str):
    found = selectors.bucket_get(project=page.project, name=name)
    if found is None:
        raise Http404("No such bucket.")
    return found


def _object(bucket, key: str):
    found = selectors.object_get(bucket=bucket, key=key) if key else None
    if found is None:
        raise Http404("No such file.")
    return found


def _prefix(text: str) -> str:
    """A folder prefix: empty, or path segments ending in ``/``."""
    text = text.strip().strip("/")
    return f"{text}/" if text else ""


@lag_tolerant
def index(request, org, project):
    page = _page(request, org, project, read=VIEW_DATA, write=MANAGE_BUCKETS)
    if request.method == "POST":
        try:
            created = services.bucket_create(
                membership=page.membership,
                project=page.project,
                name=request.POST.get("name", "").strip(),
                public=request.POST.get("public") == "on",
            )
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        else:
            messages.success(request, f"Bucket {created.name} created.")
            return HttpResponseRedirect(
                _url("project-storage-bucket", page, created.name), status=303
            )
    return _render(
        request,
        "studio/project/storage_index.html",
        page,
        "Storage",
        buckets=selectors.bucket_list(project=page.project),
    )


def folder_listing(objects, prefix: str) -> tuple[list[dict], list]:
    """The sub-folders directly under ``prefix`` and the files in it."""
    folders: dict[str, int] = {}
    files = []
    for obj in objects:
        rest = obj.key[len(prefix) :]
        if "/" in rest:
            name = rest.split("/", 1)[0]
            folders[name] = folders.get(name, 0) + 1
        else:
            files.append({"obj": obj, "name": rest})
    return [
        {"name": name, "prefix": f"{prefix}{name}/", "files": count}
        for name, count in sorted(folders.items())
    ], files


@lag_tolerant
def bucket(request, org, project, bucket):
    page = _page(request, org, project, read=VIEW_DATA, write=WRITE_DATA)
    found = _bucket(page, bucket)
    if request.method == "POST":
        return _upload(request, page, found)
    return _listing(request, page, found, _prefix(request.GET.get("prefix", "")))


def _listing(request, page: ProjectPage, found, prefix: str, signed: dict | None = None):
    objects = list(selectors.object_list(bucket=found, prefix=prefix, limit=LISTED + 1))
    folders, files = folder_listing(objects[:LISTED], prefix)
    crumbs, walked = [], ""
    for segment in prefix.split("/")[:-1]:
        walked += segment + "/"
        crumbs.append({"name": segment, "prefix": walked})
    return _render(
        request,
        "studio/project/storage_bucket.html",
        page,
        f"Bucket {found.name}",
        bucket=found,
        prefix=prefix,
        crumbs=crumbs,
        folders=folders,
        files=files,
        truncated=len(objects) > LISTED,
        lifetimes=SIGNED_LIFETIMES,
        signed=signed,
    )


def _folder_url(page: ProjectPage, found, prefix: str) -> str:
    query = {"prefix": prefix} if prefix else {}
    return _url("project-storage-bucket", page, found.name, **query)


def _folder_of(key: str) -> str:
    return _prefix(key.rsplit("/", 1)[0]) if "/" in key else ""


def _upload(request, page: ProjectPage, found):
    prefix = _prefix(request.POST.get("prefix", ""))
    back = _folder_url(page, found, prefix)
    uploads = request.FILES.getlist("file")
    if not uploads:
        messages.error(request, "Choose a file to upload.")
        return HttpResponseRedirect(back, status=303)
    for upload in uploads:
        key = prefix + upload.name
        try:
            services.object_put(membership=page.membership, bucket=found, key=key, upload=upload)
        except ValidationError as exc:
            messages.error(request, f"{key}: {' '.join(exc.messages)}")
        else:
            messages.success(request, f"Uploaded {key}.")
    return HttpResponseRedirect(back, status=303)


@require_GET
def download(request, org, project, bucket):
    page = _page(request, org, project, read=VIEW_DATA, write=WRITE_DATA)
    obj = _object(_bucket(page, bucket), request.GET.get("key", ""))
    return delivery.serve(request, obj, cache_control="private, no-store")


@require_POST
def sign(request, org, project, bucket):
    """A signed link to one file, on the folder's page (never cached). Handing out a link is
    a read (VIEW_DATA, as in the API), so a read-only member may ask for one too."""
    page = _page(request, org, project, read=VIEW_DATA, write=VIEW_DATA)
    may_write = has_org_perm(page.membership, WRITE_DATA, page.project)
    page = replace(page, can_write=may_write)
    found = _bucket(page, bucket)
    obj = _object(found, request.POST.get("key", ""))
    lifetimes = dict(SIGNED_LIFETIMES)
    asked = request.POST.get("expires_in", "")
    expires_in = int(asked) if asked.isdigit() and int(asked) in lifetimes else 3600
    token = services.signed_token(membership=page.membership, obj=obj, expires_in=expires_in)
    url = delivery.object_url(request, reverse("storage-signed", args=[token]))
    signed = {"key": obj.key, "url": url, "lifetime": lifetimes[expires_in]}
    response = _listing(request, page, found, _folder_of(obj.key), signed=signed)
    add_never_cache_headers(response)
    return response


@require_POST
def delete(request, org, project, bucket):
    page = _page(request, org, project, read=VIEW_DATA, write=WRITE_DATA)
    found = _bucket(page, bucket)
    obj = _object(found, request.POST.get("key", ""))
    services.object_delete(membership=page.membership, obj=obj)
    messages.success(request, f"Deleted {obj.key}.")
    return HttpResponseRedirect(_folder_url(page, found, _folder_of(obj.key)), status=303)
