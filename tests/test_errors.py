"""One error shape for every error, and no 500 for bad input."""

import pytest
from django.urls import include, path
from drf_spectacular.generators import SchemaGenerator

pytestmark = pytest.mark.django_db


def assert_error_shape(response, status, code=None):
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json")
    error = response.json()["error"]
    assert error["status"] == status
    assert isinstance(error["message"], str) and error["message"]
    assert error["request_id"] == response["X-Request-ID"]
    if code:
        assert error["code"] == code
    return error


def test_malformed_json_is_400(user, client_for):
    response = client_for(user).generic(
        "POST", "/api/v1/orgs/", "{not json", content_type="application/json"
    )
    assert_error_shape(response, 400, "parse_error")


def test_wrong_types_and_overlong_names_are_400_with_field_details(user, client_for):
    client = client_for(user)
    error = assert_error_shape(client.post("/api/v1/orgs/", {"name": ["x"]}, format="json"), 400)
    assert "name" in error["details"]
    error = assert_error_shape(
        client.post("/api/v1/orgs/", {"name": "x" * 500}, format="json"), 400
    )
    assert "name" in error["details"]
    error = assert_error_shape(
        client.post("/api/v1/orgs/", {"name": "ok", "slug": "Not A Slug!"}, format="json"), 400
    )
    assert "slug" in error["details"]


def test_body_that_is_not_an_object_is_400(user, client_for):
    response = client_for(user).post("/api/v1/orgs/", [1, 2], format="json")
    assert_error_shape(response, 400)


def test_unknown_org_and_unknown_route_are_404(user, client_for):
    client = client_for(user)
    assert_error_shape(client.get("/api/v1/orgs/no-such-org/projects/"), 404, "not_found")
    assert_error_shape(client.get("/api/v1/orgs/" + "x" * 300 + "/"), 404, "not_found")
    assert_error_shape(client.get("/api/v1/nothing-here/"), 404, "not_found")


def test_wrong_method_is_405(org, user, client_for):
    assert_error_shape(client_for(user).put("/api/v1/orgs/"), 405, "method_not_allowed")


def test_bad_token_is_401(api_client):
    api_client.credentials(HTTP_AUTHORIZATION="Bearer not.a.token")
    assert_error_shape(api_client.get("/api/v1/orgs/"), 401, "authentication_failed")


def _boom(request):
    raise RuntimeError("boom")


urlpatterns = [path("api/v1/boom/", _boom), path("", include("platform_site.urls"))]
handler500 = "platform_site.errors.handler500"


@pytest.mark.urls("tests.test_errors")
def test_unhandled_exception_is_500_in_the_same_shape(client):
    client.raise_request_exception = False
    assert_error_shape(client.get("/api/v1/boom/"), 500, "server_error")


def test_schema_documents_the_error_shape_on_every_operation():
    schema = SchemaGenerator().get_schema(request=None, public=True)
    assert "Error" in schema["components"]["schemas"]
    operations = [op for item in schema["paths"].values() for op in item.values()]
    assert operations
    for operation in operations:
        for code in ("400", "401", "404", "500"):
            content = operation["responses"][code]["content"]["application/json"]
            assert content["schema"]["$ref"] == "#/components/schemas/Error"


def test_schema_and_docs_are_served(client):
    assert client.get("/api/schema/").status_code == 200
    assert client.get("/api/docs/").status_code == 200


def test_deeply_nested_json_is_400_not_500(user, client_for):
    body = "[" * 100_000 + "]" * 100_000
    response = client_for(user).generic(
        "POST", "/api/v1/orgs/", body, content_type="application/json"
    )
    assert_error_shape(response, 400, "parse_error")
