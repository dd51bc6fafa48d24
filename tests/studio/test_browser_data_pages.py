"""The project console's table editor, storage browser and functions page in a real browser
(Playwright driving Debian's Chromium, headless) against one in-process live server for the
module: an org admin edits a cell and reads the change back through the API, adds and deletes
a row, uploads and downloads a file; a viewer sees the pages read-only; another org's admin
gets 404 on every console URL. The screenshots (1280 px, demo data) go to var/screenshots/, or
to $SCREENSHOTS_DIR (docs/screenshots/ for the committed ones).

The server runs in this process (Django's live-server thread, not uvicorn) so that a test can
grant the viewer role the Studio in the permission map, as the Django-client tests do.
"""

import json
import os
import re
import tempfile
from pathlib import Path

import httpx
import pytest
from django.contrib.staticfiles.handlers import StaticFilesHandler
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test.testcases import LiveServerThread

from datastore import services as data_services
from storage import services as storage_services
from tenants import services as tenant_services
from tenants.constants import ROLE_PERMISSIONS, USE_STUDIO, Role
from tenants.context import TenantContext, tenant_context
from tenants.models import Membership
from tests.conftest import _truncate_all
from tests.factories import PASSWORD, UserFactory
from tests.studio.conftest import CHROMIUM, CHROMIUM_ARGS, SCREENSHOTS, login
from tests.studio.test_table_editor import studio_data_urls

pytestmark = pytest.mark.slow
WIDTH = 1280
TODOS_SCHEMA = {
    "type": "object",
    "properties": {
        "title": {"type": "string"},
        "done": {"type": "boolean"},
        "priority": {"type": "integer"},
        "tags": {"type": "array"},
    },
    "required": ["title", "done", "priority"],
}
TODOS = [
    {"title": "Write the launch post", "done": False, "priority": 1, "tags": ["blog"]},
    {"title": "Invite the beta testers", "done": True, "priority": 2, "tags": ["beta"]},
    {"title": "Fix the sign-up email", "done": False, "priority": 1, "tags": ["auth", "bug"]},
    {"title": "Plan the next sprint", "done": False, "priority": 3, "tags": []},
    {"title": "Renew the domain", "done": True, "priority": 2, "tags": ["ops"]},
]
HELLO = """Deno.serve(async (req: Request) => {
  const body = await req.json().catch(() => ({}));
  console.log("greeting", body.name ?? "world");
  return Response.json({ message: `Hello ${body.name ?? "world"}` });
});
"""


def shoot(page, name: str) -> None:
    folder = Path(os.environ.get("SCREENSHOTS_DIR") or SCREENSHOTS)
    folder.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(folder / f"{name}.png"), full_page=True)


def _member(org, role: str) -> Membership:
    user = UserFactory(username=f"{role}@demo.example")
    owner = Membership.objects.get(org=org, role=Role.OWNER)
    return tenant_services.member_add(membership=owner, email=user.email, role=role)


def seed() -> dict:
    """A demo org's to-do app: a todos table, an avatars bucket with folders; an admin, a
    viewer; and another org with its own admin."""
    owner = UserFactory(username="owner@demo.example")
    org = tenant_services.org_create(actor=owner, name="Demo", slug="demo")
    with tenant_context(TenantContext(org_id=org.id, user_id=owner.pk, role=Role.OWNER)):
        membership = Membership.objects.select_related("org", "user").get(org=org, user=owner)
        project = tenant_services.project_create(membership=membership, name="todo-app")
        todos = data_services.collection_create(
            membership=membership,
            project=project,
            name="todos",
            json_schema=TODOS_SCHEMA,
            indexes=["done"],
        )
        data_services.record_bulk_create(membership=membership, collection=todos, items=TODOS)
        bucket = storage_services.bucket_create(
            membership=membership, project=project, name="avatars"
        )
        for key, size in (("team/ada.png", 2048), ("team/linus.png", 3100), ("logo.png", 900)):
            upload = SimpleUploadedFile(key.rsplit("/", 1)[-1], b"\x89PNG" + b"x" * size)
            upload.content_type = "image/png"
            storage_services.object_put(
                membership=membership, bucket=bucket, key=key, upload=upload
            )
        admin = _member(org, Role.ADMIN)
        viewer = _member(org, Role.VIEWER)
    other_owner = UserFactory(username="owner@other.example")
    tenant_services.org_create(actor=other_owner, name="Other", slug="other")
    return {
        "org": org,
        "project": project,
        "membership": membership,
        "admin": admin.user,
        "viewer": viewer.user,
        "other": other_owner,
    }


@pytest.fixture(scope="module")
def console(django_db_setup, django_db_blocker):
    """The seeded data and a live server for the whole module (all of it committed, and
    truncated afterwards)."""
    with django_db_blocker.unblock():
        thread = LiveServerThread("127.0.0.1", StaticFilesHandler)
        thread.daemon = True
        thread.start()
        thread.is_ready.wait()
        if thread.error:
            raise thread.error
        try:
            data = seed()
            url = f"http://127.0.0.1:{thread.port}"
            data["base"] = url
            data["root"] = f"{url}/studio/o/demo/p/{data['project'].id}/"
            yield data
        finally:
            thread.terminate()
            _truncate_all()


@pytest.fixture(scope="module")
def chromium():
    from playwright.sync_api import sync_playwright

    with pytest.MonkeyPatch.context() as patch:
        # Playwright's sync API runs an event loop in this thread; our DB work here is sync.
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        with sync_playwright() as playwright:
            instance = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            try:
                yield instance
            finally:
                instance.close()


@pytest.fixture
def signed_in(console, chromium):
    contexts = []

    def open_as(user):
        context = chromium.new_context(viewport={"width": WIDTH, "height": 900})
        contexts.append(context)
        page = context.new_page()
        login(page, console["base"], user.username, PASSWORD)
        return page

    yield open_as
    for context in contexts:
        context.close()


def api_record(console, user, title: str) -> dict:
    api = httpx.Client(base_url=console["base"], timeout=30)
    account = {"email": user.email, "password": PASSWORD}
    token = api.post("/api/v1/auth/login/", json=account).json()["access"]
    records = api.get(
        f"/api/v1/orgs/demo/projects/{console['project'].id}/collections/todos/records/",
        params={"filter": f"title:eq:{json.dumps(title)}"},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert records.status_code == 200, records.text
    return records.json()["results"]


def test_an_admin_edits_a_cell_adds_and_deletes_a_row(console, signed_in):
    page = signed_in(console["admin"])
    page.goto(console["root"] + "table/")
    shoot(page, "table-editor-collections")
    page.click("#collections >> text=todos")
    assert page.url == console["root"] + "table/todos/"

    cell = page.locator("tr", has_text="Plan the next sprint").locator("td[data-field=priority]")
    cell.click()
    page.fill("td[data-field=priority] input", "5")
    page.press("td[data-field=priority] input", "Enter")
    page.wait_for_selector("td.studio-saved")
    assert cell.text_content() == "5"
    assert api_record(console, console["admin"], "Plan the next sprint")[0]["data"]["priority"] == 5
    shoot(page, "table-editor")
    # A value the JSON Schema refuses: the message, and the cell stays in edit.
    cell.click()
    page.fill("td[data-field=priority] input", "soon")
    page.press("td[data-field=priority] input", "Enter")
    page.wait_for_selector("#cell-status.errornote")
    assert "priority" in page.text_content("#cell-status")
    page.press("td[data-field=priority] input", "Escape")
    assert cell.text_content() == "5"

    page.fill("#row-add input[name='col:title']", "Ship the console")
    page.fill("#row-add input[name='col:priority']", "2")
    page.fill("#row-add input[name='col:done']", "false")
    page.click("#row-add button[type=submit]")
    row = page.locator("#grid tr", has_text="Ship the console")
    assert row.count() == 1
    assert api_record(console, console["admin"], "Ship the console")[0]["data"] == {
        "title": "Ship the console",
        "done": False,
        "priority": 2,
    }
    row.locator("a[title='JSON of the whole row']").click()
    shoot(page, "table-editor-row-json")
    page.go_back()
    page.locator("#grid tr", has_text="Ship the console").locator("button.studio-delete").click()
    page.wait_for_selector("text=Row deleted.")
    assert page.locator("#grid tr", has_text="Ship the console").count() == 0
    assert api_record(console, console["admin"], "Ship the console") == []
    page.goto(console["root"] + "table/todos/schema/")
    shoot(page, "table-editor-schema")


def test_an_admin_uploads_and_downloads_a_file(console, signed_in, tmp_path):
    page = signed_in(console["admin"])
    page.goto(console["root"] + "storage/")
    page.click("#buckets >> text=avatars")
    page.fill("#upload-prefix", "reports/2026")
    content = b"quarterly numbers\n" * 100
    page.set_input_files(
        "#upload-file",
        {"name": "q4.bin", "mimeType": "application/octet-stream", "buffer": content},
    )
    page.click("#upload button[type=submit]")
    page.wait_for_selector("text=Uploaded reports/2026/q4.bin.")
    assert "prefix=reports%2F2026%2F" in page.url
    with page.expect_download() as info:
        page.click("a.studio-download:has-text('q4.bin')")
    saved = tmp_path / "q4.bin"
    info.value.save_as(saved)
    assert saved.read_bytes() == content

    page.click("tr:has-text('q4.bin') button.studio-sign")
    signed_url = page.get_attribute("#signed-url", "href")
    assert httpx.get(signed_url, timeout=10).content == content  # no session needed
    page.click("h2 >> text=avatars")
    shoot(page, "storage-browser")
    page.click("text=reports/")
    page.click("text=2026/")
    page.click("tr:has-text('q4.bin') button.studio-delete")
    page.wait_for_selector("text=Deleted reports/2026/q4.bin.")
    assert page.locator("a.studio-download:has-text('q4.bin')").count() == 0


def test_a_viewer_sees_the_console_read_only(console, signed_in, monkeypatch):
    # Whatever the map grants today, a viewer given the Studio reads and changes nothing.
    monkeypatch.setitem(ROLE_PERMISSIONS, Role.VIEWER, ROLE_PERMISSIONS[Role.VIEWER] | {USE_STUDIO})
    page = signed_in(console["viewer"])
    for path in ("table/", "table/todos/", "table/todos/schema/", "storage/", "storage/avatars/"):
        assert page.goto(console["root"] + path).status == 200, path
        assert page.locator("#read-only").count() == 1, path
        for control in ("#row-add", "#row-json", "#upload", "#bucket-create", ".studio-delete"):
            assert page.locator(control).count() == 0, (path, control)
        for width in (1280, 800):  # the page fits a narrow window (the grid scrolls inside)
            page.set_viewport_size({"width": width, "height": 900})
            overflow = page.evaluate(
                "document.documentElement.scrollWidth - document.documentElement.clientWidth"
            )
            assert overflow <= 1, (path, width, overflow)
    page.goto(console["root"] + "table/todos/")
    cell = page.locator("td[data-field=title]").first
    before = cell.text_content()
    cell.click()
    assert page.locator("td[data-field=title] input").count() == 0  # no inline edit
    # The server refuses a write the page does not offer.
    row = page.get_attribute("#grid tbody tr", "data-cell-url")
    token = page.input_value("#csrf")
    refused = page.request.post(
        console["base"] + row,
        form={"field": "title", "value": "changed"},
        headers={"X-CSRFToken": token},
    )
    assert refused.status == 403
    page.reload()
    assert page.locator("td[data-field=title]").first.text_content() == before


def test_another_orgs_admin_gets_404_on_every_console_url(console, signed_in):
    page = signed_in(console["other"])
    row = "00000000-0000-0000-0000-000000000001"
    for url in studio_data_urls(console["project"], "todos", row, "avatars", "hello"):
        url = url.replace("/o/org-a/", "/o/demo/")
        assert page.goto(console["base"] + url).status == 404, url


@pytest.fixture
def supervisor_running(settings):
    from tests.functions.conftest import RunningSupervisor

    running = RunningSupervisor(Path(tempfile.mkdtemp(prefix="fnsup-console-")))
    settings.FUNCTIONS_SUPERVISOR_SOCKET = running.socket
    yield running
    running.stop()


def test_the_functions_page_deploys_and_test_invokes(console, signed_in, supervisor_running):
    page = signed_in(console["admin"])
    page.goto(console["root"] + "functions/")
    page.fill("#fn-name", "hello")
    page.fill("#fn-source", "const n: number = 'one';\nDeno.serve(() => new Response(n));")
    page.click("#deploy button[type=submit]")
    assert "TS2322" in page.text_content("#deploy-refused")
    page.fill("#fn-source", HELLO)
    page.click("#deploy button[type=submit]")
    page.wait_for_url(console["root"] + "functions/hello/")
    for name in ("Ada", "Linus"):
        page.fill("#fn-body", json.dumps({"name": name}))
        page.click("#invoke button[type=submit]")
        assert json.loads(page.text_content("#test-body")) == {"message": f"Hello {name}"}
    assert "greeting Linus" in page.text_content("#test-stdout")
    assert re.search(r"greeting Ada", page.text_content("#invocations"))
    shoot(page, "functions")
    page.goto(console["root"] + "functions/")
    shoot(page, "functions-list")
