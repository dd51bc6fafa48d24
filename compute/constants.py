from django.db import models

# What a webhook can listen to: the data API's record writes, named as realtime names them.
EVENTS = ("insert", "update", "delete")
DATA_OPS = {"create": "insert", "update": "update", "delete": "delete"}


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    SUCCEEDED = "succeeded", "Succeeded"
    RETRYING = "retrying", "Retrying"
    FAILED = "failed", "Failed"
