import pytest

pytestmark = pytest.mark.django_db


def test_ready_reports_each_dependency(client):
    response = client.get("/health/ready")
    assert response.status_code == 200, response.content
    checks = response.json()["checks"]
    assert set(checks) >= {"postgres", "redis", "migrations"}
    assert all(c["ok"] and c["latency_ms"] >= 0 for c in checks.values())


def test_request_id_is_echoed_or_replaced(client):
    assert client.get("/health/live", HTTP_X_REQUEST_ID="abc-123")["X-Request-ID"] == "abc-123"
    replaced = client.get("/health/live", HTTP_X_REQUEST_ID="<script>")["X-Request-ID"]
    assert replaced != "<script>" and len(replaced) == 32
