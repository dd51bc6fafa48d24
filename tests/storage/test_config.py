"""The storage settings: STORAGE_DELIVERY_ORIGIN is an origin or nothing, STORAGE_BACKEND one
of the backends, and production refuses to start with either wrong."""

import pytest
from django.core.exceptions import ImproperlyConfigured

from storage import config
from tests.test_settings import PROD_ENV, run_manage


@pytest.mark.parametrize(
    ("value", "origin"),
    [
        ("", ""),
        ("https://Files.Example.NET", "https://files.example.net"),
        ("https://files.example.net/", "https://files.example.net"),
        ("https://files.example.net:443", "https://files.example.net"),
        ("http://127.0.0.1:8001", "http://127.0.0.1:8001"),
        ("http://[::1]:8001", "http://[::1]:8001"),
    ],
)
def test_delivery_origin_is_normalised_to_compare_with_a_request_host(value, origin):
    assert config.delivery_origin(value) == origin


@pytest.mark.parametrize(
    "value",
    [
        "files.example.net",
        "ftp://files.example.net",
        "https://files.example.net/objects",
        "https://files.example.net?x=1",
        "https://user@files.example.net",
        "https://files.example.net:99999",
        "https://",
    ],
)
def test_a_delivery_origin_with_more_or_less_than_an_origin_is_refused(value):
    with pytest.raises(ImproperlyConfigured, match="STORAGE_DELIVERY_ORIGIN"):
        config.delivery_origin(value)


def test_delivery_hostname_is_what_allowed_hosts_matches():
    assert config.delivery_hostname("https://files.example.net") == "files.example.net"
    assert config.delivery_hostname("http://127.0.0.1:8001") == "127.0.0.1"
    assert config.delivery_hostname("http://[::1]:8001") == "[::1]"


def test_production_refuses_an_unknown_backend_or_s3_without_a_bucket():
    s3 = {**PROD_ENV, "STORAGE_BACKEND": "s3"}
    assert run_manage({**s3, "AWS_STORAGE_BUCKET_NAME": "objects"}, "check").returncode == 0
    refused = {
        "AWS_STORAGE_BUCKET_NAME must be set": s3,
        "STORAGE_BACKEND must be one of filesystem, s3": {**PROD_ENV, "STORAGE_BACKEND": "nfs"},
        "STORAGE_DELIVERY_ORIGIN must be an origin": {
            **PROD_ENV,
            "STORAGE_DELIVERY_ORIGIN": "https://files.example.net/path",
        },
    }
    for message, env in refused.items():
        result = run_manage(env, "check")
        assert result.returncode != 0 and message in result.stderr, result.stderr
