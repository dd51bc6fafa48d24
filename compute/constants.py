from django.db import models

from datastore.signals import EVENT_NAMES

# What a webhook can listen to: the data API's record writes, named as deliveries name them.
EVENTS = tuple(EVENT_NAMES.values())


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    SUCCEEDED = "succeeded", "Succeeded"
    RETRYING = "retrying", "Retrying"
    FAILED = "failed", "Failed"


class JobTarget(models.TextChoices):
    URL = "url", "URL"
    FUNCTION = "function", "Function"
