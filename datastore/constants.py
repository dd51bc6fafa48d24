"""Names and limits shared by the data services."""

from django.db import models


class Access(models.TextChoices):
    ORG = "org", "Every member of the org"
    OWNER = "owner", "Only the row's owner (owners and admins of the org see all rows)"


class Store(models.TextChoices):
    RECORDS = "records", "PostgreSQL records"
    DOCUMENTS = "documents", "MongoDB documents"


NAME_PATTERN = r"[A-Za-z][A-Za-z0-9_]{0,62}"
FIELD_SEGMENT_PATTERN = r"[A-Za-z_][A-Za-z0-9_]{0,62}"
MAX_PATH_DEPTH = 8
MAX_INDEXES = 16
MAX_BULK = 500
DEFAULT_PAGE = 20
MAX_PAGE = 200
MAX_IN_VALUES = 100
MAX_FILTERS = 20
