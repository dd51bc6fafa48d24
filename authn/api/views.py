"""The auth API under ``/api/v1/auth/``. Views validate input, call a service, shape output.

Failures that must leave a trace (a failed login's audit row, the revocation after refresh
token reuse) are returned as error responses instead of raised: a raised API error rolls the
request's transaction back.
"""

from django.contrib.auth import get_user_model
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, status
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from authn import ratelimit, request_meta, selectors
from authn.api import serializers as s
from authn.services import accounts, email_verification, passwords, sessions
from platform_site.errors import error_response
from tenants import selectors as tenant_selectors

User = get_user_model()
INVALID_CREDENTIALS = "Invalid email or password."
INVALID_REFRESH = "Invalid or expired refresh token."


def _limit(action: str, account: str | None = None) -> None:
    try:
        ratelimit.check(action, ip=request_meta.current().ip, account=account)
    except ratelimit.RateLimited as exc:
        raise exceptions.Throttled(wait=exc.retry_after) from None


def _tokens(pair: sessions.TokenPair) -> dict:
    return {
        "access": pair.access,
        "refresh": pair.refresh,
        "session_id": pair.session_id,
        "token_type": "Bearer",
        "expires_in": pair.expires_in,
    }


def _session_id(request) -> str:
    return str(request.auth.get("sid"))


class PublicView(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]


class RegisterView(PublicView):
    @extend_schema(request=s.RegisterInput, responses={201: s.TokenPairSerializer})
    def post(self, request):
        data = s.RegisterInput(data=request.data)
        data.is_valid(raise_exception=True)
        _limit("register", account=data.validated_data["email"])
        user = accounts.user_register(**data.validated_data)
        pair = sessions.session_start(user=user)
        return Response(_tokens(pair), status=status.HTTP_201_CREATED)


class LoginView(PublicView):
    @extend_schema(request=s.LoginInput, responses={200: s.TokenPairSerializer})
    def post(self, request):
        data = s.LoginInput(data=request.data)
        data.is_valid(raise_exception=True)
        _limit("login", account=accounts.normalize_email(data.validated_data["email"]))
        pair = sessions.login(**data.validated_data)
        if pair is None:
            return error_response(request, 401, "invalid_credentials", INVALID_CREDENTIALS)
        return Response(_tokens(pair))


class RefreshView(PublicView):
    @extend_schema(request=s.RefreshInput, responses={200: s.TokenPairSerializer})
    def post(self, request):
        data = s.RefreshInput(data=request.data)
        data.is_valid(raise_exception=True)
        _limit("refresh", account=data.validated_data["refresh"])
        result = sessions.session_refresh(raw_refresh=data.validated_data["refresh"])
        if result.tokens is None:
            code = "refresh_token_reused" if result.reuse_detected else "invalid_refresh_token"
            return error_response(request, 401, code, INVALID_REFRESH)
        return Response(_tokens(result.tokens))


class LogoutView(APIView):
    @extend_schema(request=None, responses={204: None})
    def post(self, request):
        sessions.session_logout(user=request.user, session_id=_session_id(request))
        return Response(status=status.HTTP_204_NO_CONTENT)


class LogoutAllView(APIView):
    @extend_schema(request=None, responses={204: None})
    def post(self, request):
        sessions.session_logout_all(user=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class MeView(APIView):
    def _out(self, request) -> dict:
        user = request.user
        state = selectors.account_state(user=user)
        memberships = tenant_selectors.membership_list_for_user(user=user)
        # A Studio (cookie) session carries no token: no active org and role then.
        claims = request.auth if request.auth is not None else {}
        return s.MeOutput(
            {
                "id": user.pk,
                "email": user.email,
                "first_name": user.first_name,
                "last_name": user.last_name,
                "email_verified": bool(state and state.email_verified_at),
                "active_org": claims.get("org"),
                "role": claims.get("role"),
                "memberships": memberships,
            }
        ).data

    @extend_schema(responses={200: s.MeOutput})
    def get(self, request):
        return Response(self._out(request))

    @extend_schema(request=s.MeInput, responses={200: s.MeOutput})
    def patch(self, request):
        data = s.MeInput(data=request.data)
        data.is_valid(raise_exception=True)
        accounts.user_update(user=request.user, **data.validated_data)
        return Response(self._out(request))


class PasswordChangeView(APIView):
    @extend_schema(request=s.PasswordChangeInput, responses={204: None})
    def post(self, request):
        data = s.PasswordChangeInput(data=request.data)
        data.is_valid(raise_exception=True)
        passwords.password_change(
            user=request.user, session_id=_session_id(request), **data.validated_data
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


class PasswordResetView(PublicView):
    @extend_schema(request=s.PasswordResetInput, responses={202: s.DetailOutput})
    def post(self, request):
        data = s.PasswordResetInput(data=request.data)
        data.is_valid(raise_exception=True)
        email = accounts.normalize_email(data.validated_data["email"])
        _limit("reset", account=email)
        passwords.password_reset_request(email=email)
        return Response(
            {"detail": "If an account exists for this email, a reset link has been sent."},
            status=status.HTTP_202_ACCEPTED,
        )


class PasswordResetConfirmView(PublicView):
    @extend_schema(request=s.PasswordResetConfirmInput, responses={204: None})
    def post(self, request):
        data = s.PasswordResetConfirmInput(data=request.data)
        data.is_valid(raise_exception=True)
        _limit("reset", account=f"uid:{data.validated_data['uid']}")
        passwords.password_reset_confirm(**data.validated_data)
        return Response(status=status.HTTP_204_NO_CONTENT)


class EmailVerifyView(APIView):
    @extend_schema(request=None, responses={202: s.DetailOutput})
    def post(self, request):
        email_verification.email_verify_request(user=request.user)
        return Response({"detail": "Verification email sent."}, status=status.HTTP_202_ACCEPTED)


class EmailVerifyConfirmView(PublicView):
    @extend_schema(request=s.EmailVerifyConfirmInput, responses={204: None})
    def post(self, request):
        data = s.EmailVerifyConfirmInput(data=request.data)
        data.is_valid(raise_exception=True)
        email_verification.email_verify_confirm(token=data.validated_data["token"])
        return Response(status=status.HTTP_204_NO_CONTENT)


class SwitchOrgView(APIView):
    @extend_schema(request=s.SwitchOrgInput, responses={200: s.AccessTokenSerializer})
    def post(self, request):
        data = s.SwitchOrgInput(data=request.data)
        data.is_valid(raise_exception=True)
        pair = sessions.session_switch_org(
            user=request.user, session_id=_session_id(request), org_ref=data.validated_data["org"]
        )
        if pair is None:
            raise exceptions.NotFound()
        return Response(
            {"access": pair.access, "session_id": pair.session_id, "expires_in": pair.expires_in}
        )


class SessionListView(APIView):
    @extend_schema(responses={200: s.SessionOutput(many=True)})
    def get(self, request):
        live = selectors.session_list_live(user=request.user)
        context = {"current_session_id": _session_id(request)}
        return Response(s.SessionOutput(live, many=True, context=context).data)


class SessionDetailView(APIView):
    @extend_schema(responses={204: None})
    def delete(self, request, session_id):
        try:
            sessions.session_revoke(actor=request.user, session_id=session_id)
        except sessions.NotFound:
            raise exceptions.NotFound() from None
        return Response(status=status.HTTP_204_NO_CONTENT)
