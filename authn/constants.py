"""Names shared by the auth services, views, admin and audit trail."""

# ruff: noqa: S105  (action names, not passwords)

from django.db import models


class AuditAction(models.TextChoices):
    REGISTER = "register"
    LOGIN_OK = "login_ok"
    LOGIN_FAILED = "login_failed"
    REFRESH = "refresh"
    REUSE_DETECTED = "refresh_reuse_detected"
    LOGOUT = "logout"
    LOGOUT_ALL = "logout_all"
    REVOKE = "session_revoke"
    PASSWORD_CHANGE = "password_change"
    PASSWORD_RESET_REQUEST = "password_reset_request"
    PASSWORD_RESET = "password_reset"
    EMAIL_VERIFY_REQUEST = "email_verify_request"
    EMAIL_VERIFIED = "email_verified"
    ORG_SWITCH = "org_switch"
    ROLE_CHANGE = "role_change"
    USER_DEACTIVATE = "user_deactivate"


class RevokeReason(models.TextChoices):
    LOGOUT = "logout"
    LOGOUT_ALL = "logout_all"
    PASSWORD_CHANGE = "password_change"
    PASSWORD_RESET = "password_reset"
    REUSE_DETECTED = "refresh_reuse"
    ADMIN = "admin"
    USER_DEACTIVATED = "user_deactivated"
    USER = "user"
