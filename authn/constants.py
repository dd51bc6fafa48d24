"""Names shared by the auth services, views, admin and the audit trail."""

# ruff: noqa: S105  (action names, not passwords)

from django.db import models


class AuditAction(models.TextChoices):
    # Accounts and sessions
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
    USER_UPDATE = "user_update"
    USER_DEACTIVATE = "user_deactivate"
    # Orgs, members, invitations, projects
    ORG_CREATE = "org_create"
    ORG_UPDATE = "org_update"
    ORG_DELETE = "org_delete"
    MEMBER_ADD = "member_add"
    ROLE_CHANGE = "role_change"
    MEMBER_REMOVE = "member_remove"
    INVITATION_CREATE = "invitation_create"
    INVITATION_ACCEPT = "invitation_accept"
    INVITATION_REVOKE = "invitation_revoke"
    PROJECT_CREATE = "project_create"
    PROJECT_UPDATE = "project_update"
    PROJECT_DELETE = "project_delete"
    PROJECT_GRANT = "project_grant"
    # Data: collections and their indexes (record and document writes are client data)
    COLLECTION_CREATE = "collection_create"
    COLLECTION_UPDATE = "collection_update"
    COLLECTION_DELETE = "collection_delete"
    INDEX_CREATE = "index_create"
    INDEX_DROP = "index_drop"
    # Webhooks and scheduled jobs
    WEBHOOK_CREATE = "webhook_create"
    WEBHOOK_UPDATE = "webhook_update"
    WEBHOOK_DELETE = "webhook_delete"
    JOB_CREATE = "job_create"
    JOB_UPDATE = "job_update"
    JOB_DELETE = "job_delete"
    JOB_RUN = "job_run_requested"
    # Files
    BUCKET_CREATE = "bucket_create"
    BUCKET_DELETE = "bucket_delete"
    OBJECT_PUT = "object_put"
    OBJECT_DELETE = "object_delete"
    OBJECT_URL_SIGN = "object_url_sign"
    # Alerting
    ALERT_CHANNEL_CREATE = "alert_channel_create"
    ALERT_CHANNEL_DELETE = "alert_channel_delete"
    ALERT_CHANNEL_TEST = "alert_channel_test"
    ALERT_ACKNOWLEDGE = "alert_acknowledge"
    # Studio: adds, changes and deletions through its admin forms and actions
    STUDIO_ADD = "studio_add"
    STUDIO_CHANGE = "studio_change"
    STUDIO_DELETE = "studio_delete"


class RevokeReason(models.TextChoices):
    LOGOUT = "logout"
    LOGOUT_ALL = "logout_all"
    PASSWORD_CHANGE = "password_change"
    PASSWORD_RESET = "password_reset"
    REUSE_DETECTED = "refresh_reuse"
    ADMIN = "admin"
    USER_DEACTIVATED = "user_deactivated"
    USER = "user"
