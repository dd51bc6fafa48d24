"""GoTrue's routes (``/auth/v1/...``) over the platform's end users: the same services as the
platform's own client routes (``endusers.api.views``), the same sessions, refresh rotation,
revocation and limits; only the wire format is GoTrue's.

Refusals that must leave a trace (a failed sign-in's audit row, the revocation after refresh
token reuse) are returned as responses instead of raised: a raised error rolls the request's
transaction back.
"""

import re
from datetime import timedelta

from django.utils import timezone
from rest_framework import status
from rest_framework.response import Response

from authn.services.accounts import normalize_email
from compat import errors as compat_errors
from compat.auth import serializers as s
from compat.auth.base import AdminView, GoTrueError, GoTrueView, SignedInView
from endusers import selectors
from endusers.constants import AUTHENTICATED, SignupMode
from endusers.services import accounts, passwords, sessions, verification
from tenants.api.base import valid

SIGNIN_REFUSALS = {
    "invalid_credentials": "Invalid login credentials",
    "user_banned": "User is banned",
    "email_not_confirmed": "Email not confirmed",
}
PHONE_DISABLED = GoTrueError(422, "phone_provider_disabled", "Phone sign-ins are disabled")
NO_USER = GoTrueError(404, "user_not_found", "User not found")


def _no_phone(data) -> None:
    if data.get("phone"):
        raise PHONE_DISABLED


class SignupView(GoTrueView):
    """Email + password sign-up; without either, an anonymous sign-in (as GoTrue)."""

    email_taken = "user_already_exists"

    def post(self, request):
        data = valid(s.SignupInput, request.data)
        _no_phone(data)
        email, password = data.get("email") or "", data.get("password") or ""
        metadata = data.get("data") or None
        if not email and not password:
            self.limit("anonymous")
            session = accounts.end_user_anonymous_signin(
                project=self.project, user_metadata=metadata
            )
            return Response(s.session_body(session))
        if not email:
            raise GoTrueError(400, "validation_failed", "To sign up, please provide your email")
        if not password:
            raise GoTrueError(422, "validation_failed", "Signup requires a valid password")
        self.limit("signup", account=normalize_email(email))
        end_user, session = accounts.end_user_signup(
            project=self.project, email=email, password=password, user_metadata=metadata
        )
        # Awaiting confirmation: the user alone, no session (GoTrue's answer too).
        return Response(s.session_body(session) if session else s.user_body(end_user))


class TokenView(GoTrueView):
    """``grant_type=password`` (sign-in) and ``grant_type=refresh_token`` (rotation)."""

    def post(self, request):
        grant = request.query_params.get("grant_type", "")
        if grant == "password":
            return self.password(request)
        if grant == "refresh_token":
            return self.refresh(request)
        raise GoTrueError(400, "validation_failed", f"unsupported_grant_type: {grant[:40]!r}")

    def password(self, request):
        data = valid(s.PasswordGrantInput, request.data)
        _no_phone(data)
        if not data.get("email"):
            raise GoTrueError(400, "validation_failed", "An email address is required")
        email = normalize_email(data["email"])
        self.limit("signin", account=email)
        result = accounts.end_user_signin(
            project=self.project, email=email, password=data["password"]
        )
        if result.session is None:
            refused = result.refused
            return compat_errors.gotrue_response(400, refused, SIGNIN_REFUSALS[refused])
        return Response(s.session_body(result.session))

    def refresh(self, request):
        raw = valid(s.RefreshGrantInput, request.data)["refresh_token"]
        self.limit("refresh", account=raw)
        result = sessions.end_user_session_refresh(project=self.project, raw_refresh=raw)
        if result.tokens is None:
            if result.reuse_detected:  # the session is revoked by now: committed, not raised
                code, message = "refresh_token_already_used", "Already Used"
            else:
                code, message = "refresh_token_not_found", "Refresh Token Not Found"
            return compat_errors.gotrue_response(400, code, f"Invalid Refresh Token: {message}")
        return Response(s.session_body(result.tokens))


class UserView(SignedInView):
    def get(self, request):
        end_user = selectors.end_user_get(project=self.project, end_user_id=self.client.end_user_id)
        if end_user is None:
            raise NO_USER
        return Response(s.user_body(end_user))

    def put(self, request):
        data = valid(s.UserUpdateInput, request.data)
        _no_phone(data)
        end_user = accounts.end_user_update_self(
            project=self.project,
            end_user_id=self.client.end_user_id,
            session_id=self.client.session_id,
            user_metadata=data.get("data"),
            email=data.get("email"),
            password=data.get("password"),
        )
        return Response(s.user_body(end_user))


class LogoutView(SignedInView):
    """``?scope=local`` (this session), ``global`` (every one, GoTrue's default) or
    ``others``; their access tokens are refused from the next request on."""

    def post(self, request):
        scope = valid(s.LogoutInput, request.query_params.dict())["scope"]
        sessions.end_user_signout(
            project=self.project,
            end_user_id=self.client.end_user_id,
            session_id=self.client.session_id,
            scope=scope,
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


class RecoverView(GoTrueView):
    """Mails a reset link if the account exists; the answer is the same either way."""

    def post(self, request):
        email = normalize_email(valid(s.RecoverInput, request.data)["email"])
        self.limit("recover", account=email)
        passwords.end_user_password_recover(project=self.project, email=email)
        return Response({})


class VerifyView(GoTrueView):
    """The mailed token (the fragment of the link, ``#token=...``) -> a session: an email
    confirmation, or a password recovery (the app then sets the password: ``PUT /user``)."""

    def post(self, request):
        data = valid(s.VerifyInput, request.data)
        token = data.get("token_hash") or data["token"]
        if data["type"] == "recovery":
            self.limit("recover", account=f"token:{token}")
            session = passwords.end_user_password_recovery_signin(project=self.project, token=token)
        else:
            session = verification.end_user_email_verify(project=self.project, token=token)
        return Response(s.session_body(session))


class SettingsView(GoTrueView):
    """What the project allows, as GoTrue's ``/settings`` reports it."""

    def get(self, request):
        settings = selectors.auth_settings_for(project=self.project)
        return Response(
            {
                "external": {
                    "email": True,
                    "phone": False,
                    "anonymous_users": settings.anonymous_sign_in,
                },
                "disable_signup": settings.signup == SignupMode.CLOSED,
                "mailer_autoconfirm": settings.signup == SignupMode.OPEN,
                "phone_autoconfirm": False,
                "sms_provider": "",
                "saml_enabled": False,
            }
        )


# --- auth.admin: the secret key's user management -----------------------------------------

DURATION = re.compile(r"\A(\d+)(h|m|s)\Z")
UNITS = {"h": "hours", "m": "minutes", "s": "seconds"}
# GoTrue's admin update takes these too; here they are the end user's own to change.
ADMIN_REFUSED = ("email", "password", "phone", "role")


def _banned_until(duration: str):
    if duration == "none":
        return None
    amount, unit = DURATION.match(duration).groups()
    return timezone.now() + timedelta(**{UNITS[unit]: int(amount)})


class AdminUserListView(AdminView):
    email_taken = "email_exists"
    MAX_PER_PAGE = 1000

    def get(self, request):
        page = self._positive("page", 1)
        per_page = min(self._positive("per_page", 50), self.MAX_PER_PAGE)
        users = selectors.end_user_list(project=self.project)
        total = users.count()
        start = (page - 1) * per_page
        rows = list(users[start : start + per_page])
        response = Response({"users": [s.user_body(u) for u in rows], "aud": AUTHENTICATED})
        response["X-Total-Count"] = str(total)
        last = max(1, -(-total // per_page))
        links = [f'</admin/users?page={last}&per_page={per_page}>; rel="last"']
        if page < last:
            links.insert(0, f'</admin/users?page={page + 1}&per_page={per_page}>; rel="next"')
        response["Link"] = ", ".join(links)
        return response

    def _positive(self, name: str, default: int) -> int:
        raw = self.request.query_params.get(name) or ""
        if not raw:
            return default
        if not raw.isdigit() or not 0 < int(raw) <= 10**6:
            raise GoTrueError(400, "validation_failed", f"{name}: a positive integer.")
        return int(raw)

    def post(self, request):
        data = valid(s.AdminCreateInput, request.data)
        _no_phone(data)
        end_user = accounts.end_user_create(
            project=self.project,
            email=data["email"],
            password=data.get("password"),
            user_metadata=data.get("user_metadata"),
            app_metadata=data.get("app_metadata"),
            email_confirmed=data["email_confirm"],
        )
        return Response(s.user_body(end_user))


class AdminUserDetailView(AdminView):
    def target(self):
        end_user = selectors.end_user_get(project=self.project, end_user_id=self.kwargs["end_user"])
        if end_user is None:  # another project's id too: nothing says it exists
            raise NO_USER
        return end_user

    def get(self, request, end_user):
        return Response(s.user_body(self.target()))

    def put(self, request, end_user):
        target = self.target()
        body = request.data if isinstance(request.data, dict) else {}
        refused = sorted(set(body) & set(ADMIN_REFUSED))
        if refused:
            raise GoTrueError(
                400, "validation_failed", f"{refused[0]}: not changeable through auth.admin here"
            )
        data = valid(s.AdminUpdateInput, request.data)
        changes = {k: data[k] for k in ("user_metadata", "app_metadata") if k in data}
        if "email_confirm" in data:
            changes["email_confirmed"] = data["email_confirm"]
        if "ban_duration" in data:
            changes["banned_until"] = _banned_until(data["ban_duration"])
        updated = accounts.end_user_admin_update(project=self.project, end_user=target, **changes)
        return Response(s.user_body(updated))

    def delete(self, request, end_user):
        accounts.end_user_delete(project=self.project, end_user=self.target())
        return Response({})
