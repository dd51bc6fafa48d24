"""The storage settings read from the environment: which backend holds object bytes, and the
origin that object URLs point at. Imported by the settings modules, so no models here."""

from urllib.parse import urlsplit

from django.core.exceptions import ImproperlyConfigured

BACKENDS = {
    "filesystem": "storage.backends.FileSystemBlobStorage",
    "s3": "storage.backends.S3BlobStorage",
}
_DEFAULT_PORTS = {"http": 80, "https": 443}


def delivery_origin(value: str) -> str:
    """``""`` (objects are served from the platform's own origin) or ``scheme://host[:port]``,
    lower-cased and without a default port, so it compares equal to a request's host."""
    value = value.strip()
    if not value:
        return ""
    error = ImproperlyConfigured(
        f"STORAGE_DELIVERY_ORIGIN must be an origin such as https://files.example.net "
        f"(scheme and host, no path), not {value!r}."
    )
    parts = urlsplit(value)
    if (
        parts.scheme not in _DEFAULT_PORTS
        or not parts.hostname
        or parts.path not in ("", "/")
        or parts.query
        or parts.fragment
        or parts.username is not None
    ):
        raise error
    try:
        port = parts.port
    except ValueError:
        raise error from None
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    if port not in (None, _DEFAULT_PORTS[parts.scheme]):
        host = f"{host}:{port}"
    return f"{parts.scheme}://{host}"


def delivery_hostname(origin: str) -> str:
    """The host of an origin from ``delivery_origin``, without the port (for ALLOWED_HOSTS)."""
    hostname = urlsplit(origin).hostname
    return f"[{hostname}]" if ":" in hostname else hostname


def default_storage(backend: str, *, bucket_name: str, endpoint_url: str, region_name: str):
    """``STORAGES["default"]`` for ``STORAGE_BACKEND``: ``filesystem`` (MEDIA_ROOT) or ``s3``."""
    if backend not in BACKENDS:
        raise ImproperlyConfigured(
            f"STORAGE_BACKEND must be one of {', '.join(BACKENDS)}, not {backend!r}."
        )
    if backend == "filesystem":
        return {"BACKEND": BACKENDS[backend]}
    if not bucket_name:
        raise ImproperlyConfigured("AWS_STORAGE_BUCKET_NAME must be set for STORAGE_BACKEND=s3.")
    return {
        "BACKEND": BACKENDS[backend],
        "OPTIONS": {
            "bucket_name": bucket_name,
            "endpoint_url": endpoint_url or None,
            "region_name": region_name or None,
            # A blob is shared by every key with the same bytes, whatever type each key was
            # uploaded as; the type that counts is the object row's, applied when we serve it.
            "object_parameters": {"ContentType": "application/octet-stream"},
        },
    }
