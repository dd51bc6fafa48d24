import re

import pytest
from django.core import mail
from rest_framework.test import APIClient

from endusers.models import ProjectAuthSettings
from tenants import services
from tenants.context import TenantContext, set_tenant_context
from tests.access.conftest import make_end_user, set_rule, todos  # noqa: F401
from tests.datastore.conftest import (  # noqa: F401
    add_member,
    as_member,
    membership_a,
    membership_b,
    project_a,
    project_b,
)

PASSWORD = "correct horse battery 9"
AUTH = "/client/v1/auth/"


@pytest.fixture(autouse=True)
def _sync_mail(settings):
    settings.AUTHN_EMAIL_ASYNC = False


@pytest.fixture
def keys(membership_a, project_a, membership_b, project_b):
    """Publishable and secret keys of project A, and a publishable key of project B."""
    as_member(membership_a)
    _, publishable = services.api_key_create(
        membership=membership_a, project=project_a, kind="publishable"
    )
    secret_row, secret = services.api_key_create(
        membership=membership_a, project=project_a, kind="secret", name="server"
    )
    as_member(membership_b)
    _, other = services.api_key_create(
        membership=membership_b, project=project_b, kind="publishable"
    )
    _, other_secret = services.api_key_create(
        membership=membership_b, project=project_b, kind="secret"
    )
    set_tenant_context(TenantContext())
    return {
        "pk": publishable,
        "sk": secret,
        "sk_row": secret_row,
        "other": other,
        "other_sk": other_secret,
    }


class App:
    """A client app of one project: its key, and the end user's token once signed in."""

    def __init__(self, key: str):
        self.key = key
        self.http = APIClient()
        self.access = None

    def _headers(self, token):
        headers = {"HTTP_APIKEY": self.key}
        token = token if token is not None else self.access
        if token:
            headers["HTTP_AUTHORIZATION"] = f"Bearer {token}"
        return headers

    def call(self, method, path, body=None, token=None):
        url = path if path.startswith("/") else AUTH + path
        return getattr(self.http, method)(url, body, format="json", **self._headers(token))

    def post(self, path, body=None, token=None):
        return self.call("post", path, body, token)

    def signup(self, email, password=PASSWORD, **extra):
        return self.post("signup/", {"email": email, "password": password, **extra})

    def signin(self, email, password=PASSWORD):
        response = self.post("signin/", {"email": email, "password": password})
        if response.status_code == 200:
            self.access = response.json()["access_token"]
        return response


@pytest.fixture
def app(keys):
    return App(keys["pk"])


@pytest.fixture
def server(keys):
    """The project's own server, with the secret key."""
    return App(keys["sk"])


@pytest.fixture
def other_app(keys):
    return App(keys["other"])


@pytest.fixture
def auth_settings(membership_a, project_a):
    def set_(**fields):
        as_member(membership_a)
        ProjectAuthSettings.objects.update_or_create(
            project=project_a, defaults={"org_id": project_a.org_id, **fields}
        )
        set_tenant_context(TenantContext())

    return set_


def mailed_token(to: str, path: str) -> str:
    """The token in the last mail to ``to`` whose link goes to ``path``."""
    for message in reversed(mail.outbox):
        if to in message.to and path in message.body:
            return re.search(r"#token=(\S+)", message.body).group(1)
    raise AssertionError(f"no {path} mail to {to}")


def error_code(response) -> str:
    return response.json()["error"]["code"]
