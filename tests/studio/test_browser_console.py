"""A project's console in a real browser (Playwright driving Debian's Chromium, headless), on
one live server and one browser: an org owner opens the project, opens sign-up, makes a key
that a test client then uses, changes a rule and sees "test as anon" change, bans an end user
whose next call is refused, reads the request log; a viewer sees the pages read-only; another
org's owner gets 404 on every project URL. The pages' screenshots (1280 px, this demo) go to
``var/screenshots/`` (copied to ``docs/screenshots/``)."""

import re
import uuid

import httpx
import pytest
from django.contrib import admin
from django.urls import NoReverseMatch, reverse

from tests.factories import PASSWORD
from tests.studio.conftest import login, screenshot

pytestmark = pytest.mark.slow
PROJECT_PREFIX = "o/<str:org>/p/<uuid:project>/"
# studio:project-table and the rest are the table editor's, storage browser's and functions
# page's URL names: walked here once they exist.
OTHER_PAGES = ("studio:project-table", "studio:project-storage", "studio:project-functions")


def register(api, email: str) -> dict:
    account = {"email": email, "password": PASSWORD}
    assert api.post("/api/v1/auth/register/", json=account).status_code == 201
    token = api.post("/api/v1/auth/login/", json=account).json()["access"]
    return {"Authorization": f"Bearer {token}"}


def seed(base: str) -> dict:
    """Org ``acme`` (owner, viewer), project ``web`` with ``todos`` (3 records); org
    ``rival`` with its own owner."""
    api = httpx.Client(base_url=base, timeout=30)
    owner = register(api, "owner@acme.example")
    assert api.post("/api/v1/orgs/", json={"name": "Acme"}, headers=owner).status_code == 201
    project = api.post("/api/v1/orgs/acme/projects/", json={"name": "web"}, headers=owner).json()
    register(api, "viewer@acme.example")
    member = {"email": "viewer@acme.example", "role": "viewer"}
    assert api.post("/api/v1/orgs/acme/members/", json=member, headers=owner).status_code == 201
    collection = f"/api/v1/orgs/acme/projects/{project['id']}/collections/"
    assert api.post(collection, json={"name": "todos"}, headers=owner).status_code == 201
    items = [{"title": t, "done": t == "bread"} for t in ("milk", "eggs", "bread")]
    records = api.post(collection + "todos/records/", json={"items": items}, headers=owner)
    assert records.status_code == 201, records.text
    rival = register(api, "owner@rival.example")
    assert api.post("/api/v1/orgs/", json={"name": "Rival"}, headers=rival).status_code == 201
    todos = api.get(collection, headers=owner).json()[0]
    return {"project": project, "todos": todos}


def project_urls(base: str, org: str, ids: dict) -> list[str]:
    """Every Studio URL of the project (this console's, and the other pages' once their
    names resolve), parameters filled with the demo's ids or a random UUID."""
    urls = []
    for entry in admin.site.get_urls():
        route = str(entry.pattern)
        if not route.startswith(PROJECT_PREFIX):
            continue

        def fill(match) -> str:
            return str(ids.get(match.group(2), uuid.uuid4() if match.group(1) else "x"))

        urls.append(base + "/studio/" + re.sub(r"<(uuid:)?(?:\w+:)?(\w+)>", fill, route))
    for name in OTHER_PAGES:
        try:
            urls.append(base + reverse(name, args=[org, ids["project"]]))
        except NoReverseMatch:
            pass
    return urls


def test_an_owner_runs_the_project_console_a_viewer_reads_it_a_rival_gets_404(
    studio_server, browser
):
    demo = seed(studio_server)
    project, todos = demo["project"], demo["todos"]
    root = f"{studio_server}/studio/o/acme/p/{project['id']}/"
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    login(page, studio_server, "owner@acme.example", PASSWORD)

    # Home, from the org page; its navigation names every section.
    page.goto(studio_server + "/studio/o/acme/")
    page.click("a:text-is('web')")
    assert page.url == root
    nav = page.locator("#project-nav a").all_text_contents()
    assert nav == [
        "Home", "Table editor", "Authentication", "API keys", "Rules", "Storage", "Functions",
        "Logs",
    ]  # fmt: skip

    # Sign-up open, then a key made in the Studio and used from a test client.
    page.click("#project-nav >> text=Authentication")
    page.click("text=Sign-up settings")
    page.select_option("#id_signup", "open")
    page.click("#auth-settings button[type=submit]")
    page.click("#project-nav >> text=API keys")
    page.select_option("#id_kind", "publishable")
    page.fill("#id_name", "web app")
    page.click("#key-create button[type=submit]")
    key = page.input_value("#new-key")
    app = httpx.Client(base_url=studio_server, headers={"apikey": key}, timeout=10)
    assert app.get("/client/v1/project/").json()["role"] == "anon"
    account = {"email": "alice@example.com", "password": PASSWORD}
    signed_up = app.post("/client/v1/auth/signup/", json=account)
    assert signed_up.status_code == 201, signed_up.text
    alice = signed_up.json()["session"]
    as_alice = {"Authorization": f"Bearer {alice['access_token']}"}
    assert app.get("/client/v1/project/", headers=as_alice).status_code == 200
    listed = app.get("/client/v1/collections/todos/records/")
    assert listed.status_code == 200 and listed.json()["results"] == []  # no rule: nobody

    page.goto(root)
    assert page.text_content('[data-usage="end_users"]') == "1"
    assert int(page.text_content('[data-usage="requests"]')) >= 4
    assert key[:21] in page.text_content("#snippet-js") and key not in page.content()
    screenshot(page, "project-home")

    # A rule changed in the form; "test as anon" follows, and so does the API.
    rules = f"{root}rules/collection/{todos['id']}/"
    page.goto(rules)
    page.fill("#id_who", "anon")
    page.click("#test-as button[type=submit]")
    assert page.text_content("#test-count") == "0"
    page.select_option("#id_select-anon-kind", "everyone")
    page.fill("#id_select-anon-conditions", "done:eq:false")
    page.click("#rules button[type=submit]")
    page.wait_for_selector("text=1 rule(s) saved.")
    policy = page.locator("#rules .studio-policy").first.text_content()
    assert "data satisfies" in policy, policy  # select · anon: the policy, read-only
    assert len(app.get("/client/v1/collections/todos/records/").json()["results"]) == 2
    page.fill("#id_who", "anon")
    page.fill("#id_query", 'filter=title:in:["milk","bread"]')
    page.click("#test-as button[type=submit]")
    assert page.text_content("#test-count") == "1"  # bread is done: the rule hides it
    assert "milk" in page.text_content("#test-result")
    screenshot(page, "rules-test-as")

    # Ban: alice's next call is refused at once.
    page.goto(root + "auth/")
    screenshot(page, "end-users")
    page.click("text=alice@example.com")
    page.fill("#id_roles", "editor")
    page.click("#app-roles button[type=submit]")
    assert page.text_content("#app-roles-now") == "editor"
    page.select_option("#id_hours", "24")
    page.click("form:has(input[value=ban]) button[type=submit]")
    assert "banned until" in page.text_content("#status")
    screenshot(page, "end-user")
    refused = app.get("/client/v1/project/", headers=as_alice)
    assert refused.status_code == 401
    refused_id = refused.headers["X-Request-ID"]

    # Logs: the refused call is there, found by status and by request id.
    page.goto(root + "logs/")
    assert page.locator("#log tbody tr").count() >= 6
    page.fill("#id_status", "4xx")
    page.click("#log-filter button[type=submit]")
    statuses = {
        s.strip() for s in page.locator("#log tbody tr td:nth-child(2)").all_text_contents()
    }
    assert statuses and all(s.startswith("4") for s in statuses), statuses
    screenshot(page, "logs")
    page.goto(root + f"logs/?request_id={refused_id}")
    assert page.locator("#log tbody tr").count() == 1
    ids = {
        "project": project["id"],
        "org": "acme",
        "resource_type": "collection",
        "resource_id": todos["id"],
        "end_user": alice["user"]["id"],
    }
    urls = project_urls(studio_server, "acme", ids)
    page.close()

    # A viewer: every page it may read, read-only, with no write control.
    viewer = browser.new_page(viewport={"width": 1280, "height": 900})
    login(viewer, studio_server, "viewer@acme.example", PASSWORD)
    for path in ("", "auth/", f"auth/users/{alice['user']['id']}/", "rules/", rules, "logs/"):
        url = path if path.startswith("http") else root + path
        assert viewer.goto(url).status == 200, url
        assert viewer.locator("#read-only").count() == 1, url
        assert viewer.locator("#content form[method=post] button").count() == 0, url
    assert viewer.goto(root + "keys/").status == 403
    viewer.close()

    # Another org's owner: 404 on every project URL, GET and POST alike.
    rival = browser.new_page()
    login(rival, studio_server, "owner@rival.example", PASSWORD)
    assert len(urls) >= 10
    csrf = next(c["value"] for c in rival.context.cookies() if c["name"] == "csrftoken")
    for url in urls:
        assert rival.goto(url).status == 404, url
        posted = rival.request.post(
            url, form={"kind": "secret"}, headers={"X-CSRFToken": csrf}, max_redirects=0
        )
        assert posted.status == 404, url
    rival.close()
