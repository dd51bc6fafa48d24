"""Create the demo org, its owner and a superuser, once. Passwords are random and printed once."""

import secrets

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction

from tenants import services
from tenants.context import TenantContext, tenant_context
from tenants.models import Organization

DEMO_SLUG = "demo"


class Command(BaseCommand):
    help = "Create a demo org with an owner, and a Studio superuser (idempotent)."

    def handle(self, *args, **options) -> None:
        User = get_user_model()
        created = []
        with transaction.atomic():
            if not User.objects.filter(username="admin").exists():
                password = secrets.token_urlsafe(12)
                User.objects.create_superuser("admin", "admin@example.com", password)
                created.append(("Studio superuser", "admin", password))
            owner = User.objects.filter(username="owner@demo.example").first()
            if owner is None:
                password = secrets.token_urlsafe(12)
                owner = User.objects.create_user(
                    "owner@demo.example", "owner@demo.example", password
                )
                created.append(("Demo org owner", "owner@demo.example", password))
        with tenant_context(TenantContext(platform_admin=True)):
            exists = Organization.objects.filter(slug=DEMO_SLUG).exists()
        if not exists:
            services.org_create(actor=owner, name="Demo", slug=DEMO_SLUG)
        for role, login, password in created:
            self.stdout.write(f"{role}: {login} / {password}   (shown once)")
        if not created:
            self.stdout.write(
                "Demo org and users already exist (passwords were shown at creation)."
            )
