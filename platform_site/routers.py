"""The API router: trailing slash optional, so ``/orgs`` and ``/orgs/`` both answer
(a redirect would turn a client's POST into a GET)."""

from rest_framework.routers import SimpleRouter


class OptionalSlashRouter(SimpleRouter):
    def __init__(self):
        super().__init__()
        self.trailing_slash = "/?"
