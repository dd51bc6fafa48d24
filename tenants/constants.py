"""Roles and the permissions each one carries inside an organization."""

from django.db import models


class Role(models.TextChoices):
    OWNER = "owner", "Owner"
    ADMIN = "admin", "Admin"
    DEVELOPER = "developer", "Developer"
    VIEWER = "viewer", "Viewer"


# Permissions, named after what they guard. ``ROLE_PERMISSIONS`` below is the one map from a
# role to what it may do; ``tenants.permissions.has_org_perm`` is the one check.
VIEW_ORG = "view_org"
CHANGE_ORG = "change_org"
DELETE_ORG = "delete_org"
VIEW_MEMBERS = "view_members"
MANAGE_MEMBERS = "manage_members"  # members, roles below owner, invitations, project grants
MANAGE_OWNERS = "manage_owners"
VIEW_PROJECT = "view_project"
ADD_PROJECT = "add_project"
CHANGE_PROJECT = "change_project"
DELETE_PROJECT = "delete_project"
VIEW_DATA = "view_data"  # records, documents, files, webhook deliveries, job runs
WRITE_DATA = "write_data"
MANAGE_SCHEMA = "manage_schema"  # collections and their indexes
MANAGE_WEBHOOKS = "manage_webhooks"
MANAGE_JOBS = "manage_jobs"
MANAGE_BUCKETS = "manage_buckets"
MANAGE_FUNCTIONS = "manage_functions"  # deploy, configure, roll back, test-invoke functions
VIEW_ALERTS = "view_alerts"
MANAGE_ALERTS = "manage_alerts"  # alert channels, acknowledging alerts
# A collection's access rule (for members) and the client-app access rules of collections,
# buckets and channels: only roles that RLS lets see every row (``PRIVILEGED_ROLES``) hold it.
CHANGE_ACCESS_RULES = "change_access_rules"
USE_STUDIO = "use_studio"  # the Studio's pages for this org (members, projects, consoles)
MANAGE_API_KEYS = "manage_api_keys"  # a project's publishable and secret keys
VIEW_END_USERS = "view_end_users"  # a project's end users and their sessions
# Ban, confirm, revoke sessions, edit app_metadata; the project's sign-up settings.
MANAGE_END_USERS = "manage_end_users"

# Every member may open the Studio; each page asks for its own read and write permissions,
# so a viewer reads what it may and changes nothing.
_VIEWER = {VIEW_ORG, VIEW_MEMBERS, VIEW_PROJECT, VIEW_DATA, VIEW_ALERTS, VIEW_END_USERS, USE_STUDIO}
_DEVELOPER = _VIEWER | {
    ADD_PROJECT,
    CHANGE_PROJECT,
    WRITE_DATA,
    MANAGE_SCHEMA,
    MANAGE_WEBHOOKS,
    MANAGE_JOBS,
    MANAGE_BUCKETS,
    MANAGE_END_USERS,
    MANAGE_FUNCTIONS,
}
_ADMIN = _DEVELOPER | {
    CHANGE_ORG,
    MANAGE_MEMBERS,
    DELETE_PROJECT,
    MANAGE_ALERTS,
    CHANGE_ACCESS_RULES,
    MANAGE_API_KEYS,
}
_OWNER = _ADMIN | {DELETE_ORG, MANAGE_OWNERS}

ROLE_PERMISSIONS: dict[str, frozenset[str]] = {
    Role.VIEWER: frozenset(_VIEWER),
    Role.DEVELOPER: frozenset(_DEVELOPER),
    Role.ADMIN: frozenset(_ADMIN),
    Role.OWNER: frozenset(_OWNER),
}

# Roles that see every row of an org, whatever a collection's access rule says. The RLS policy
# on records names them in SQL (datastore migration 0002); the document store mirrors it.
PRIVILEGED_ROLES = frozenset({Role.OWNER, Role.ADMIN})
