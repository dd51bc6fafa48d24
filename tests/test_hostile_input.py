"""Hostile input at the edge: NUL characters, unpaired surrogates, too many parameters, deep
nesting and oversized bodies are a 400 (413 for size) in the one error shape, never a 500;
API routes answer that shape with DEBUG on as well as off, and never let a cache keep what
they answer."""

import pytest
from django.test import override_settings
from django.urls import include, path

from datastore.constants import MAX_FILTERS
from tests.test_errors import assert_error_shape

pytestmark = pytest.mark.django_db


@pytest.fixture
def api(org, user, client_for):
    client = client_for(user)
    project = client.post("/api/v1/orgs/org-a/projects/", {"name": "app"}, "json").json()
    client.project = f"/api/v1/orgs/org-a/projects/{project['id']}"
    assert client.post(client.project + "/buckets/", {"name": "docs"}, "json").status_code == 201
    created = client.post(client.project + "/collections/", {"name": "items"}, "json")
    assert created.status_code == 201
    client.records = client.project + "/collections/items/records/"
    return client


def post_json(client, url, text: str):
    body = text.encode("utf-8", "surrogatepass")
    return client.generic("POST", url, body, content_type="application/json")


def nested(depth: int) -> str:
    return '{"a": ' * depth + "1" + "}" * depth


# --- NUL characters and unpaired surrogates ---------------------------------------------------
def test_nul_in_a_query_parameter_is_400(api):
    response = api.get(api.project + "/buckets/docs/objects/?prefix=%00")
    error = assert_error_shape(response, 400, "bad_request")
    assert "NUL" in error["message"]


def test_nul_in_the_path_is_400(api):
    assert_error_shape(api.get("/api/v1/orgs/org%00a/projects/"), 400, "bad_request")


def test_nul_outside_the_api_is_400_too(admin_client):
    assert admin_client.get("/studio/authn/session/?q=%00").status_code == 400


@pytest.mark.parametrize("value", ['"\\ud800"', '["ok", "\\udfff"]', '"a\\u0000b"'])
def test_unstorable_text_in_a_filter_value_is_400(api, value):
    response = api.get(api.records, {"filter": f"name:eq:{value}"})
    assert "query" in assert_error_shape(response, 400, "invalid")["details"]


@pytest.mark.parametrize(
    "body",
    [
        '{"data": {"name": "\\ud800"}}',
        '{"data": {"\\udc00": 1}}',
        '{"data": {"name": "a\\u0000b"}}',
        '{"items": [{"ok": 1}, {"deep": ["\\ud800"]}]}',
    ],
)
def test_unstorable_text_in_a_json_body_is_400(api, body):
    assert_error_shape(post_json(api, api.records, body), 400, "parse_error")


def test_paired_surrogates_are_one_character_and_welcome(api):
    response = post_json(api, api.records, '{"data": {"emoji": "\\ud83d\\ude00"}}')
    assert response.status_code == 201, response.content
    assert response.json()["data"]["emoji"] == "\U0001f600"


def test_a_body_that_is_not_utf8_is_400(api):
    response = api.generic("POST", api.records, b'{"data": {"a": "\xff"}}', "application/json")
    assert_error_shape(response, 400, "parse_error")


# --- sizes and counts -------------------------------------------------------------------------
def test_two_thousand_filters_are_a_400_about_query_parameters(api, settings):
    query = "&".join(["filter=a:eq:1"] * 2000)
    error = assert_error_shape(api.get(api.records + "?" + query), 400, "bad_request")
    assert str(settings.API_MAX_QUERY_PARAMS) in error["message"]


def test_more_filters_than_max_filters_are_a_400_below_the_parameter_limit(api, settings):
    """The errors table's "filters per list request": ``MAX_FILTERS`` pass, one more is a 400
    about filters, while the request is still far below the query-parameter limit."""
    assert MAX_FILTERS + 1 < settings.API_MAX_QUERY_PARAMS
    at_limit = "&".join([f"filter=n{i}:eq:1" for i in range(MAX_FILTERS)])
    assert api.get(api.records + "?" + at_limit).status_code == 200
    over = at_limit + "&filter=last:eq:1"
    error = assert_error_shape(api.get(api.records + "?" + over), 400, "invalid")
    assert f"At most {MAX_FILTERS} filters" in error["details"]["query"][0]


def test_query_parameters_up_to_the_limit_pass(api, settings):
    settings.API_MAX_QUERY_PARAMS = 3
    assert api.get(api.records, {"limit": 5, "order": "a", "count": "true"}).status_code == 200
    response = api.get(api.records + "?limit=5&order=a&count=true&fields=a")
    assert_error_shape(response, 400, "bad_request")


@pytest.mark.parametrize("depth", [65, 900, 3000, 100_000])
def test_deeply_nested_record_is_400(api, depth):
    response = post_json(api, api.records, '{"data": ' + nested(depth) + "}")
    error = assert_error_shape(response, 400, "parse_error")
    assert "nested" in error["message"]


def test_nesting_up_to_the_limit_is_stored(api, settings):
    # The body's envelope {"data": ...} is the first level.
    limit = settings.API_MAX_JSON_DEPTH
    response = post_json(api, api.records, '{"data": ' + nested(limit - 1) + "}")
    assert response.status_code == 201, response.content


def test_deeply_nested_filter_value_is_400(api):
    response = api.get(api.records, {"filter": "a:eq:" + "[" * 100 + "]" * 100})
    assert_error_shape(response, 400, "invalid")


def test_a_body_over_the_size_limit_is_413(api, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    response = post_json(api, api.records, '{"data": {"text": "' + "x" * 1000 + '"}}')
    assert_error_shape(response, 413, "request_too_large")
    assert post_json(api, api.records, '{"data": {"text": "short"}}').status_code == 201


# --- one error shape with DEBUG on and off ----------------------------------------------------
def _boom(request):
    raise RuntimeError("boom at /srv/app/secret.py: SELECT password FROM users")


urlpatterns = [path("api/v1/boom/", _boom), path("", include("platform_site.urls"))]


def assert_no_internals(response):
    text = response.content.decode()
    for leak in ("Traceback", "/srv/", ".py", "SELECT", "urlpatterns", "<html"):
        assert leak not in text, text[:500]


@pytest.mark.parametrize("debug", [False, True])
def test_non_member_gets_json_404_in_every_settings_module(org, other_user, client_for, debug):
    with override_settings(DEBUG=debug):
        response = client_for(other_user).get("/api/v1/orgs/org-a/projects/")
    assert_error_shape(response, 404, "not_found")
    assert_no_internals(response)


@pytest.mark.parametrize("debug", [False, True])
def test_unknown_route_and_wrong_method_are_json(user, client_for, debug):
    client = client_for(user)
    with override_settings(DEBUG=debug):
        assert_no_internals(assert_response(client.get("/api/v1/nothing-here/"), 404))
        # Supabase Storage's paths answer in its shape (compat.errors).
        storage = client.get("/storage/v1/nothing/")
        assert storage.status_code == 404, storage.content
        assert set(storage.json()) == {"statusCode", "error", "message"}
        assert_no_internals(storage)
        response = client.put("/api/v1/orgs/")
    assert_error_shape(response, 405, "method_not_allowed")


def assert_response(response, status):
    assert_error_shape(response, status)
    return response


@pytest.mark.urls("tests.test_hostile_input")
@pytest.mark.parametrize("debug", [False, True])
def test_unhandled_exception_is_a_json_500_without_internals(client, debug):
    client.raise_request_exception = False
    with override_settings(DEBUG=debug):
        response = client.get("/api/v1/boom/")
    assert_error_shape(response, 500, "server_error")
    assert_no_internals(response)


# --- caching ----------------------------------------------------------------------------------
def test_authenticated_responses_are_no_store(org, user, client_for):
    client = client_for(user)
    for url in ("/api/v1/auth/me/", "/api/v1/orgs/org-a/", "/api/v1/orgs/", "/api/v1/nope/"):
        assert client.get(url)["Cache-Control"] == "no-store", url


def test_session_authenticated_and_token_responses_are_no_store(admin_client, client, user):
    assert admin_client.get("/health/ready")["Cache-Control"] == "no-store"
    login = client.post(
        "/api/v1/auth/login/",
        {"email": user.email, "password": "correct horse battery"},
        content_type="application/json",
    )
    assert login.status_code == 200 and "access" in login.json()
    assert login["Cache-Control"] == "no-store"


def test_anonymous_public_responses_keep_their_own_caching(client):
    assert "Cache-Control" not in client.get("/health/live")
