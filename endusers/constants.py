"""End users: the people who use the apps our customers build, one project each."""

from django.db import models


class SignupMode(models.TextChoices):
    OPEN = "open", "Anyone can sign up"
    CONFIRM = "confirm", "Anyone can sign up; the email must be confirmed before sign-in"
    CLOSED = "closed", "Nobody can sign up (the secret key or a developer creates end users)"


AUTHENTICATED = "authenticated"  # the ``role`` claim of an end user's access token
