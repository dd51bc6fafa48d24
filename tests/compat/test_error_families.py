"""A refusal made before any view (no key, a wrong key, an unknown path) is already in the
shape of the API family the client speaks, as its SDK parses it (compat.errors)."""

import pytest


@pytest.mark.django_db
@pytest.mark.parametrize(
    "path, shape",
    [
        ("/auth/v1/user", {"code", "error_code", "msg"}),
        ("/rest/v1/todos", {"code", "message", "details", "hint"}),
        ("/storage/v1/bucket", {"statusCode", "error", "message"}),
        ("/storage/v1/object/list/docs", {"statusCode", "error", "message"}),
    ],
)
@pytest.mark.parametrize("key", [None, "sb_publishable_nope"])
def test_refusals_before_the_view_use_the_family_shape(client, path, shape, key):
    headers = {"HTTP_APIKEY": key} if key else {}
    response = client.get(path, **headers)
    assert response.status_code == 401
    body = response.json()
    assert set(body) == shape, body
    assert "error" not in body or isinstance(body["error"], str)


@pytest.mark.django_db
def test_the_platform_delivery_urls_keep_the_platform_shape(client):
    response = client.get("/storage/v1/o/not-a-token")
    assert response.status_code in (400, 403, 404)
    assert set(response.json()) == {"error"}
