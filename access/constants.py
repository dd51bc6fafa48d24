"""What an access rule can say: for a resource of a project, an operation, a client role."""

from django.db import models


class ResourceType(models.TextChoices):
    COLLECTION = "collection", "Collection (records or documents)"
    BUCKET = "bucket", "Storage bucket"
    CHANNEL = "channel", "Private realtime channel"


class Operation(models.TextChoices):
    SELECT = "select", "Read"
    INSERT = "insert", "Create"
    UPDATE = "update", "Change"
    DELETE = "delete", "Delete"


class ClientRole(models.TextChoices):
    ANON = "anon", "Anyone holding the publishable key"
    AUTHENTICATED = "authenticated", "Signed-in end users"


# Not a rule subject: the project's secret key acts as this role and bypasses the rules.
SERVICE_ROLE = "service_role"
CLIENT_ROLES = (ClientRole.ANON, ClientRole.AUTHENTICATED, SERVICE_ROLE)


class RuleKind(models.TextChoices):
    NOBODY = "nobody", "Nobody"
    EVERYONE = "everyone", "Everyone in the role"
    OWNER = "owner", "The row's owner"
    ROLE = "role", "End users holding an app role"


# Channels: "select" is receiving (join), "insert" is sending (broadcast, presence).
CHANNEL_OPERATIONS = (Operation.SELECT, Operation.INSERT)
APP_ROLE_PATTERN = r"[a-z][a-z0-9_]{0,39}"
MAX_CONDITIONS = 5
