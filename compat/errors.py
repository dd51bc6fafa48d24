"""Each Supabase API family answers errors in its own shape, as its clients parse them.

``platform_site.errors.error_response`` asks ``family_of(path)`` first, so a refusal made before
any view runs (no API key, a 404 of the URL resolver) is already in the family's shape:

- GoTrue (``/auth/v1/``): ``{"code": <status>, "error_code": "...", "msg": "..."}``
- PostgREST (``/rest/v1/``): ``{"code": "...", "message": "...", "details": ..., "hint": ...}``
- Storage (``/storage/v1/`` but the platform's own delivery URLs): ``{"statusCode": "<status>",
  "error": "...", "message": "..."}``
"""

from django.http import JsonResponse

# Where the platform's signed and public delivery URLs live (storage.urls): its own shape.
PLATFORM_STORAGE = ("/storage/v1/o/", "/storage/v1/public/")


def family_of(path: str) -> str | None:
    from endusers.identity import split_ref  # imported late: identity needs this module's users

    _, path = split_ref(path)  # /p/<ref>/<path> is the same family as <path>
    if path.startswith("/auth/v1/"):
        return "gotrue"
    if path.startswith("/rest/v1/"):
        return "postgrest"
    if path.startswith("/storage/v1/") and not path.startswith(PLATFORM_STORAGE):
        return "storage"
    return None


# GoTrue answers every response with the API version it speaks; auth-js reads error codes
# (``error_code``) from any response that carries it.
GOTRUE_API_VERSION_HEADER = "X-Supabase-Api-Version"
GOTRUE_API_VERSION = "2024-01-01"
# The platform's codes (the client identity's refusals, DRF's defaults, the bare-status
# handlers) as GoTrue names them: code -> (status, or None to keep it; GoTrue's code).
GOTRUE_CODES = {
    "api_key_required": (None, "no_authorization"),
    "invalid_token": (403, "bad_jwt"),
    "session_ended": (403, "session_not_found"),
    "not_authenticated": (None, "no_authorization"),
    "invalid": (None, "validation_failed"),
    "parse_error": (None, "bad_json"),
    "unsupported_media_type": (None, "bad_json"),
    "throttled": (None, "over_request_rate_limit"),
    "server_error": (None, "unexpected_failure"),
    "bad_request": (None, "validation_failed"),
}


def gotrue_code(status: int, code: str) -> tuple[int, str]:
    new_status, new_code = GOTRUE_CODES.get(code, (None, code))
    return new_status or status, new_code


def gotrue_body(status: int, code: str, message: str, **extra) -> dict:
    return {"code": status, "error_code": code, "msg": message, **extra}


def gotrue_response(status: int, code: str, message: str, **extra) -> JsonResponse:
    status, code = gotrue_code(status, code)
    response = JsonResponse(gotrue_body(status, code, message, **extra), status=status)
    response[GOTRUE_API_VERSION_HEADER] = GOTRUE_API_VERSION
    return response


def postgrest_body(code: str, message: str, details=None, hint=None) -> dict:
    return {"code": code, "message": message, "details": details, "hint": hint}


def storage_body(status: int, code: str, message: str) -> dict:
    return {"statusCode": str(status), "error": code, "message": message}


# A refusal before the view (bad key, unknown URL) in PostgREST's codes.
POSTGREST_CODES = {
    400: "PGRST100",
    401: "PGRST301",
    403: "42501",
    404: "PGRST125",
    405: "PGRST117",
}


def family_response(family: str, status: int, code: str, message: str) -> JsonResponse:
    if family == "gotrue":
        return gotrue_response(status, code, message)
    elif family == "postgrest":
        body = postgrest_body(POSTGREST_CODES.get(status, code), message, hint=code)
    else:
        body = storage_body(status, code, message)
    return JsonResponse(body, status=status)
