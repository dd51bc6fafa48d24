"""The Studio in a real browser (Playwright driving Debian's Chromium, headless).

The page walk and the Redis dashboard run on a demo seeded through the live server's own API
(an org, a project, a collection of records, several sessions, a hot session key), so the
screenshots they write (``var/screenshots/``, copied to ``docs/screenshots/``) show data."""

import os
import subprocess
import sys
import time

import httpx
import redis
from django.contrib.auth import get_user_model

from tenants import services
from tests.factories import PASSWORD
from tests.studio.conftest import login, screenshot

PAGES = {
    "overview": "/studio/",
    "orgs": "/studio/orgs/",
    "org": "/studio/o/acme/",
    "redis": "/studio/redis/",
    "health": "/studio/health/",
    "users": "/studio/auth/user/",
    "projects": "/studio/tenants/project/",
    "sessions": "/studio/authn/session/",
    "audit": "/studio/authn/auditevent/",
    "database": "/studio/datastore/collection/browser/?org=acme",
    "alerts": "/studio/observability/alert/",
    "errors": "/studio/observability/errorgroup/",
    "backups": "/studio/datastore/backuprun/",
    "webhooks": "/studio/compute/webhookdelivery/",
    "storage": "/studio/storage/storedobject/",
}


def make_staff(*, with_org: bool = True):
    User = get_user_model()
    staff = User.objects.create_superuser("root@example.com", "root@example.com", PASSWORD)
    if with_org:
        services.org_create(actor=staff, name="Acme", slug="acme")
    return staff


def seed_demo(base: str) -> dict:
    """A demo through the public API: org ``acme``, project ``web``, 24 orders, 3 sessions,
    and 120 authenticated requests (session-cache reads; one session key gets hot)."""
    api = httpx.Client(base_url=base, timeout=30)
    account = {"email": "dev@acme.example", "password": PASSWORD}
    assert api.post("/api/v1/auth/register/", json=account).status_code == 201
    tokens = [api.post("/api/v1/auth/login/", json=account).json() for _ in range(3)]
    headers = {"Authorization": f"Bearer {tokens[0]['access']}"}
    org = api.post("/api/v1/orgs/", json={"name": "Acme"}, headers=headers).json()
    assert org["slug"] == "acme", org
    project = api.post(
        "/api/v1/orgs/acme/projects/", json={"name": "web", "description": "Storefront"},
        headers=headers,
    ).json()  # fmt: skip
    collection = f"/api/v1/orgs/acme/projects/{project['id']}/collections/"
    assert api.post(collection, json={"name": "orders"}, headers=headers).status_code == 201
    items = [
        {"data": {"number": 1000 + i, "status": ("open", "paid", "shipped")[i % 3],
                  "total": round(19.5 * (i + 1), 2), "customer": f"customer{i % 7}@example.com"}}
        for i in range(24)
    ]  # fmt: skip
    created = api.post(collection + "orders/records/", json={"items": items}, headers=headers)
    assert created.status_code == 201, created.text
    for i in range(120):
        token = tokens[0] if i % 4 else tokens[1 + i % 2]
        me = api.get("/api/v1/auth/me/", headers={"Authorization": f"Bearer {token['access']}"})
        assert me.status_code == 200
    return {"project": project, "session_id": tokens[0]["session_id"]}


def wait_for_chart_points(page, count: int = 1) -> None:
    """Until the hit-rate chart has ``count`` measured points (each needs two samples)."""
    page.wait_for_function(
        "window.studioLive && "
        f"window.studioLive.series()[1].filter(v => v !== null).length >= {count}",
        timeout=15000 + 7000 * count,
    )


def evaluate_alerts(redis_url: str) -> None:
    code = "import django; django.setup(); from observability.alerts import evaluate; evaluate()"
    subprocess.run(
        [sys.executable, "-c", code],
        env={**os.environ, "REDIS_URL": redis_url},
        check=True,
        timeout=60,
    )


def frame_count(page) -> int:
    return int(page.text_content("#frame-count"))


def test_redis_dashboard_is_live_and_shows_the_breaker_opening(
    studio_server, studio_redis, browser
):
    make_staff(with_org=False)
    seed = seed_demo(studio_server)
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    login(page, studio_server, "root@example.com", PASSWORD)
    page.goto(studio_server + "/studio/redis/")
    page.wait_for_function(
        "Number(document.getElementById('frame-count').textContent) >= 2", timeout=12000
    )
    assert page.text_content("#live-status") == "live"
    hits_before = int(page.text_content('[data-field="redis.keyspace_hits"]'))

    client = redis.Redis.from_url(studio_redis.url)
    client.set("studio:test:key", "1")
    for _ in range(50):
        client.get("studio:test:key")
    seen = frame_count(page)
    page.wait_for_function(
        f"Number(document.getElementById('frame-count').textContent) > {seen}", timeout=12000
    )
    hits_after = int(page.text_content('[data-field="redis.keyspace_hits"]'))
    assert hits_after >= hits_before + 50
    assert page.text_content("#breaker-state") == "closed"

    # The chart: a line (two points at least) the server measured, on an axis spanning the
    # last hour (epoch seconds). One point alone draws nothing.
    wait_for_chart_points(page, count=2)
    rates = [v for v in page.evaluate("window.studioLive.series()[1]") if v is not None]
    assert len(rates) >= 2 and all(0 <= v <= 1 for v in rates)
    x_min, x_max = page.evaluate("window.studioLive.xRange()")
    now = time.time()
    assert now - 60 <= x_max <= now + 5 and abs(x_max - x_min - 3600) < 1
    # Every point inside the plotted hour: the newest sample is taken while the frame is
    # built, and used to land after the frame's time, past the right edge of the plot.
    for _ in range(3):
        seen = frame_count(page)
        page.wait_for_function(
            f"Number(document.getElementById('frame-count').textContent) > {seen}", timeout=12000
        )
        times = page.evaluate("window.studioLive.series()[0]")
        x_min, x_max = page.evaluate("window.studioLive.xRange()")
        assert times and all(x_min <= t <= x_max for t in times), (times[-3:], x_max)
    # The chart keeps to its card when the window narrows.
    page.set_viewport_size({"width": 800, "height": 900})
    page.wait_for_timeout(200)
    overflow = page.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 1
    page.set_viewport_size({"width": 1280, "height": 900})
    # The latency card: this server process's cache calls (the seeded requests' session reads).
    assert int(page.text_content('[data-field="redis.latency.samples"]')) >= 120
    assert float(page.text_content('[data-field="redis.latency.p50"]')) > 0
    page.wait_for_function(
        f"document.getElementById('hotkeys').textContent.includes('{seed['session_id']}')",
        timeout=12000,
    )
    screenshot(page, "redis")

    studio_redis.kill()
    page.wait_for_function(
        "document.getElementById('breaker-state').textContent === 'open'", timeout=20000
    )
    # The alert rules run in a worker (Celery beat); here one evaluation round runs in its own
    # process against the same, now dead, Redis.
    evaluate_alerts(studio_redis.url)
    page.wait_for_function(
        "document.getElementById('alerts').textContent.includes('Redis unreachable')",
        timeout=15000,
    )
    assert page.url.endswith("/studio/redis/")  # no reload: the page updated itself
    assert page.locator("#alerts a", has_text="runbook").count() >= 1


def test_hotkeys_table_shows_a_key_the_test_made_hot(studio_server, browser):
    make_staff()
    User = get_user_model()
    User.objects.create_user("app@example.com", "app@example.com", PASSWORD)
    api = httpx.Client(base_url=studio_server, timeout=10)
    login_response = api.post(
        "/api/v1/auth/login/", json={"email": "app@example.com", "password": PASSWORD}
    )
    assert login_response.status_code == 200, login_response.text
    body = login_response.json()
    # Every authenticated request reads its session from the cache: one key, made hot.
    for _ in range(150):
        me = api.get("/api/v1/auth/me/", headers={"Authorization": f"Bearer {body['access']}"})
        assert me.status_code == 200
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    login(page, studio_server, "root@example.com", PASSWORD)
    page.goto(studio_server + "/studio/redis/")
    page.wait_for_function(
        f"document.getElementById('hotkeys').textContent.includes('{body['session_id']}')",
        timeout=12000,
    )
    first_row = page.locator("#hotkeys tbody tr").first.text_content()
    assert body["session_id"] in first_row


def test_every_studio_page_renders_at_1280_and_800(studio_server, browser):
    make_staff(with_org=False)
    project = seed_demo(studio_server)["project"]["id"]
    pages = {
        **PAGES,  # the database browser opens on the seeded collection's records
        "database": f"{PAGES['database']}&project={project}&collection=orders&store=records",
    }
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    login(page, studio_server, "root@example.com", PASSWORD)
    for name, path in pages.items():
        for width in (1280, 800):
            page.set_viewport_size({"width": width, "height": 900})
            response = page.goto(studio_server + path)
            assert response.status == 200, path
            # No horizontal overflow: the layout fits the viewport.
            overflow = page.evaluate(
                "document.documentElement.scrollWidth - document.documentElement.clientWidth"
            )
            assert overflow <= 1, (path, width, overflow)
            if width == 1280:
                if name == "redis":
                    wait_for_chart_points(page, 3)  # a line, for the README's screenshot
                if name in ("redis", "health"):
                    page.wait_for_function(
                        "Number(document.getElementById('frame-count').textContent) >= 1",
                        timeout=12000,
                    )
                screenshot(page, name)
        nav = page.locator("nav.studio-nav a[aria-current=page]")
        assert nav.count() == 1, path


def test_keyboard_reaches_the_navigation(studio_server, browser):
    make_staff()
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    login(page, studio_server, "root@example.com", PASSWORD)
    labels = []
    for _ in range(25):
        page.keyboard.press("Tab")
        labels.append(page.evaluate("document.activeElement.textContent.trim()"))
    assert "Redis" in labels and "Health" in labels
