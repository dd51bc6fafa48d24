"""A project's API keys in a real browser (Playwright driving Debian's Chromium, headless): an
org owner creates a key, sees it once, and the key works on the client routes."""

import httpx

from tests.factories import PASSWORD
from tests.studio.conftest import login, screenshot


def seed_owner_and_project(base: str) -> dict:
    api = httpx.Client(base_url=base, timeout=30)
    account = {"email": "owner@acme.example", "password": PASSWORD}
    assert api.post("/api/v1/auth/register/", json=account).status_code == 201
    token = api.post("/api/v1/auth/login/", json=account).json()["access"]
    headers = {"Authorization": f"Bearer {token}"}
    assert api.post("/api/v1/orgs/", json={"name": "Acme"}, headers=headers).status_code == 201
    project = api.post("/api/v1/orgs/acme/projects/", json={"name": "web"}, headers=headers)
    assert project.status_code == 201, project.text
    collection = f"/api/v1/orgs/acme/projects/{project.json()['id']}/collections/"
    assert api.post(collection, json={"name": "todos"}, headers=headers).status_code == 201
    return {**project.json(), "collection": api.get(collection, headers=headers).json()[0]}


def test_an_owner_creates_a_key_and_sees_it_once(studio_server, browser):
    project = seed_owner_and_project(studio_server)
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    login(page, studio_server, "owner@acme.example", PASSWORD)
    page.goto(studio_server + "/studio/o/acme/")
    page.click("text=API keys")
    keys_url = f"{studio_server}/studio/o/acme/p/{project['id']}/keys/"
    assert page.url == keys_url
    assert page.locator("#keys").count() == 0  # no keys yet

    page.select_option("#id_kind", "publishable")
    page.fill("#id_name", "mobile app")
    page.click("#key-create button[type=submit]")
    raw = page.input_value("#new-key")
    assert raw.startswith("sb_publishable_") and len(raw) > 30
    screenshot(page, "api-key-created")

    who = httpx.get(studio_server + "/client/v1/project/", headers={"apikey": raw}, timeout=10)
    assert who.status_code == 200 and who.json()["role"] == "anon"

    page.click("text=Back to the keys")
    assert page.url == keys_url
    rows = page.locator("#keys tbody tr")
    assert rows.count() == 1
    row = rows.first.text_content()
    assert "mobile app" in row and raw[:21] in row and "never" not in row  # used just now
    assert raw not in page.content()  # shown once: the list has the prefix only
    screenshot(page, "api-keys")

    # The project's other pages fit a narrow window too (no horizontal overflow).
    root = f"{studio_server}/studio/o/acme/p/{project['id']}/"
    rules = f"rules/collection/{project['collection']['id']}/"
    for path in ("auth/", "auth/settings/", "rules/", rules):
        for width in (1280, 800):
            page.set_viewport_size({"width": width, "height": 900})
            assert page.goto(root + path).status == 200, path
            overflow = page.evaluate(
                "document.documentElement.scrollWidth - document.documentElement.clientWidth"
            )
            assert overflow <= 1, (path, width, overflow)
    screenshot(page, "rules")
