"""Errors both stores (records and documents) raise to their callers."""


class VersionMismatch(Exception):
    """If-Match named a version that is no longer current (HTTP 412)."""
