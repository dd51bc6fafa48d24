"""The Studio in a real browser (Playwright driving Debian's Chromium, headless)."""

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
}


def make_staff():
    User = get_user_model()
    staff = User.objects.create_superuser("root@example.com", "root@example.com", PASSWORD)
    services.org_create(actor=staff, name="Acme", slug="acme")
    return staff


def frame_count(page) -> int:
    return int(page.text_content("#frame-count"))


def test_redis_dashboard_is_live_and_shows_the_breaker_opening(
    studio_server, studio_redis, browser
):
    make_staff()
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
    screenshot(page, "redis")

    studio_redis.stop()
    page.wait_for_function(
        "document.getElementById('breaker-state').textContent === 'open'", timeout=20000
    )
    assert page.url.endswith("/studio/redis/")  # no reload: the page updated itself


def test_every_studio_page_renders_at_1280_and_800(studio_server, browser):
    make_staff()
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    login(page, studio_server, "root@example.com", PASSWORD)
    for name, path in PAGES.items():
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
