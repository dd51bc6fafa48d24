"""A real ASGI server (uvicorn) for browser tests, with its own Redis the test may kill."""

from pathlib import Path

import pytest

from tests.access.conftest import make_end_user, todos  # noqa: F401 (project pages)
from tests.datastore.conftest import (  # noqa: F401
    add_member,
    membership_a,
    membership_b,
    project_a,
    project_b,
)
from tests.servers import AppServer, OwnRedis

ROOT = Path(__file__).resolve().parent.parent.parent
SCREENSHOTS = ROOT / "var" / "screenshots"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture
def studio_redis(tmp_path):
    redis = OwnRedis(tmp_path)
    redis.start()
    yield redis
    redis.kill()


@pytest.fixture
def studio_server(committed, studio_redis):
    """uvicorn serving the platform (HTTP + websockets) against the test database."""
    server = AppServer(
        {
            "REDIS_URL": studio_redis.url,
            # The default interval (5 s): the dashboard test expects 2 frames within 12 s.
            "STUDIO_LIVE_INTERVAL_SECONDS": "5",
            "REDIS_BREAKER_RESET_SECONDS": "2",
            "REDIS_HOTKEY_SAMPLE_RATE": "1",
        }
    ).start()
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture
def browser(monkeypatch):
    # Playwright's sync API runs an event loop in this thread; our DB work here is sync.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield instance
        finally:
            instance.close()


def screenshot(page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def login(page, base: str, username: str, password: str) -> None:
    page.goto(base + "/studio/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("input[type=submit]")
    page.wait_for_url(base + "/studio/")
