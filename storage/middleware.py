"""The delivery origin answers object URLs and nothing else: the Studio, the API and the rest
of the platform are never served from the origin that tenants' files come from."""

from platform_site.errors import error_response
from storage.delivery import DELIVERY_PATH_PREFIX, on_delivery_origin


class DeliveryOriginMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if on_delivery_origin(request) and not request.path.startswith(DELIVERY_PATH_PREFIX):
            return error_response(request, 404, "not_found", "Not found.")
        return self.get_response(request)
