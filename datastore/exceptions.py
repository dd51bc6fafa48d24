"""Errors both stores (records and documents) raise to their callers."""


class VersionMismatch(Exception):
    """If-Match named a version that is no longer current (HTTP 412)."""


class RuleRefused(Exception):
    """A client app's write that the project's access rules refuse on a row it can see."""
