"""Client-app routes: the project itself, and its end users' auth (``/client/v1/auth/...``).

Refusals that must leave a trace (a failed sign-in's audit row, the revocation after refresh
token reuse) are returned as error responses instead of raised: a raised API error rolls the
request's transaction back (as in ``authn.api.views``).
"""

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import exceptions, serializers, status
from rest_framework.response import Response

from access.constants import SERVICE_ROLE
from authn import ratelimit, request_meta
from authn.services.accounts import normalize_email
from endusers import selectors
from endusers.api import serializers as s
from endusers.api.base import ClientView
from endusers.services import accounts, passwords, sessions, verification
from platform_site.errors import error_response
from tenants.api.base import found, valid

INVALID_CREDENTIALS = "Invalid email or password."
INVALID_REFRESH = "Invalid or expired refresh token."
REFUSALS = {
    "invalid_credentials": (401, INVALID_CREDENTIALS),
    "user_banned": (403, "This user is banned."),
    "email_not_confirmed": (403, "Confirm the email address first (see the link mailed to it)."),
}


def signup_disabled(exc):
    return exceptions.PermissionDenied(
        detail="Sign-up is disabled for this project.", code="signup_disabled"
    )


def anonymous_disabled(exc):
    return exceptions.PermissionDenied(
        detail="Anonymous sign-in is disabled for this project.", code="anonymous_disabled"
    )


def user_out(end_user) -> dict:
    return s.EndUserOutput(end_user).data


def session_out(session: sessions.ClientSession) -> dict:
    return {
        "access_token": session.access_token,
        "refresh_token": session.refresh_token,
        "token_type": "bearer",
        "expires_in": session.expires_in,
        "expires_at": session.expires_at,
        "user": user_out(session.end_user),
    }


class AuthView(ClientView):
    api_errors = {
        **ClientView.api_errors,
        accounts.SignupDisabled: signup_disabled,
        accounts.AnonymousSignInDisabled: anonymous_disabled,
    }

    def limit(self, action: str, account: str | None = None) -> None:
        """Per project and client IP (and account): ``authn.ratelimit``, the one limiter."""
        try:
            ratelimit.check(
                action, ip=request_meta.current().ip, account=account, project=self.client.project
            )
        except ratelimit.RateLimited as exc:
            raise exceptions.Throttled(wait=exc.retry_after) from None


class SignedInView(AuthView):
    """Routes of the signed-in end user: the access token names it."""

    def get_authenticate_header(self, request):
        return 'Bearer realm="client"'  # a 401, as the client middleware answers

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        if self.client.end_user_id is None:
            raise exceptions.NotAuthenticated("Sign in first: send the end user's access token.")


class ClientProjectView(ClientView):
    """The project the key names, and who the caller is to it."""

    @extend_schema(
        operation_id="client_project",
        responses=inline_serializer(
            "ClientProject",
            {
                "ref": serializers.CharField(),
                "name": serializers.CharField(),
                "role": serializers.CharField(),
                "end_user_id": serializers.UUIDField(allow_null=True),
            },
        ),
    )
    def get(self, request):
        client = self.client
        return Response(
            {
                "ref": client.project.ref,
                "name": client.project.name,
                "role": client.role,
                "end_user_id": str(client.end_user_id) if client.end_user_id else None,
            }
        )


class SignupView(AuthView):
    @extend_schema(
        operation_id="client_auth_signup", request=s.SignupInput, responses={201: s.SignupOutput}
    )
    def post(self, request):
        data = valid(s.SignupInput, request.data)
        self.limit("signup", account=normalize_email(data["email"]))
        end_user, session = accounts.end_user_signup(project=self.client.project, **data)
        body = {"user": user_out(end_user), "session": session_out(session) if session else None}
        return Response(body, status=status.HTTP_201_CREATED)


class SigninView(AuthView):
    @extend_schema(
        operation_id="client_auth_signin",
        request=s.SigninInput,
        responses={200: s.ClientSessionOutput},
    )
    def post(self, request):
        data = valid(s.SigninInput, request.data)
        self.limit("signin", account=normalize_email(data["email"]))
        result = accounts.end_user_signin(project=self.client.project, **data)
        if result.session is None:
            code = result.refused
            status_code, message = REFUSALS[code]
            return error_response(request, status_code, code, message)
        return Response(session_out(result.session))


class AnonymousView(AuthView):
    @extend_schema(
        operation_id="client_auth_anonymous", request=None, responses={201: s.ClientSessionOutput}
    )
    def post(self, request):
        self.limit("anonymous")
        session = accounts.end_user_anonymous_signin(project=self.client.project)
        return Response(session_out(session), status=status.HTTP_201_CREATED)


class RefreshView(AuthView):
    @extend_schema(
        operation_id="client_auth_refresh",
        request=s.ClientRefreshInput,
        responses={200: s.ClientSessionOutput},
    )
    def post(self, request):
        raw = valid(s.ClientRefreshInput, request.data)["refresh_token"]
        self.limit("refresh", account=raw)
        result = sessions.end_user_session_refresh(project=self.client.project, raw_refresh=raw)
        if result.tokens is None:
            code = "refresh_token_reused" if result.reuse_detected else "invalid_refresh_token"
            return error_response(request, 401, code, INVALID_REFRESH)
        return Response(session_out(result.tokens))


class SignoutView(SignedInView):
    @extend_schema(
        operation_id="client_auth_signout", request=s.SignoutInput, responses={204: None}
    )
    def post(self, request):
        scope = valid(s.SignoutInput, request.data)["scope"]
        sessions.end_user_signout(
            project=self.client.project,
            end_user_id=self.client.end_user_id,
            session_id=self.client.session_id,
            scope=scope,
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


class UserView(SignedInView):
    @extend_schema(operation_id="client_auth_user", responses={200: s.EndUserOutput})
    def get(self, request):
        end_user = selectors.end_user_get(
            project=self.client.project, end_user_id=self.client.end_user_id
        )
        return Response(user_out(found(end_user)))

    @extend_schema(
        operation_id="client_auth_user_update",
        request=s.UserUpdateInput,
        responses={200: s.EndUserOutput},
    )
    def patch(self, request):
        data = valid(s.UserUpdateInput, request.data)
        end_user = accounts.end_user_update_self(
            project=self.client.project,
            end_user_id=self.client.end_user_id,
            session_id=self.client.session_id,
            **data,
        )
        return Response(user_out(end_user))


class VerifyView(AuthView):
    @extend_schema(
        operation_id="client_auth_verify",
        request=s.TokenInput,
        responses={200: s.ClientSessionOutput},
    )
    def post(self, request):
        token = valid(s.TokenInput, request.data)["token"]
        session = verification.end_user_email_verify(project=self.client.project, token=token)
        return Response(session_out(session))


class RecoverView(AuthView):
    @extend_schema(
        operation_id="client_auth_recover",
        request=s.RecoverInput,
        responses={202: s.ClientDetailOutput},
    )
    def post(self, request):
        email = normalize_email(valid(s.RecoverInput, request.data)["email"])
        self.limit("recover", account=email)
        passwords.end_user_password_recover(project=self.client.project, email=email)
        return Response(
            {"detail": "If an account exists for this email, a reset link has been sent."},
            status=status.HTTP_202_ACCEPTED,
        )


class ResetView(AuthView):
    @extend_schema(operation_id="client_auth_reset", request=s.ResetInput, responses={204: None})
    def post(self, request):
        data = valid(s.ResetInput, request.data)
        self.limit("recover", account=f"token:{data['token']}")
        passwords.end_user_password_reset(project=self.client.project, **data)
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- The secret key's user management ---------------------------------------------------------


class AdminView(ClientView):
    """Only the project's secret key (``service_role``), server-side."""

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        if self.client.role != SERVICE_ROLE:
            raise exceptions.PermissionDenied("Only the project's secret key manages users.")


class AdminUserListView(AdminView):
    @extend_schema(
        operation_id="client_admin_users",
        responses={200: s.AdminEndUserOutput(many=True)},
    )
    def get(self, request):
        search = request.query_params.get("search") or None
        users = selectors.end_user_list(project=self.client.project, search=search)[:1000]
        return Response(s.AdminEndUserOutput(users, many=True).data)

    @extend_schema(
        operation_id="client_admin_user_create",
        request=s.AdminCreateInput,
        responses={201: s.AdminEndUserOutput},
    )
    def post(self, request):
        data = valid(s.AdminCreateInput, request.data)
        end_user = accounts.end_user_create(project=self.client.project, **data)
        return Response(s.AdminEndUserOutput(end_user).data, status=status.HTTP_201_CREATED)


class AdminUserDetailView(AdminView):
    def target(self):
        return found(
            selectors.end_user_get(project=self.client.project, end_user_id=self.kwargs["end_user"])
        )

    @extend_schema(operation_id="client_admin_user", responses={200: s.AdminEndUserOutput})
    def get(self, request, end_user):
        return Response(s.AdminEndUserOutput(self.target()).data)

    @extend_schema(
        operation_id="client_admin_user_update",
        request=s.AdminUpdateInput,
        responses={200: s.AdminEndUserOutput},
    )
    def patch(self, request, end_user):
        target = self.target()  # another project's id is a 404 whatever the body
        data = valid(s.AdminUpdateInput, request.data)
        updated = accounts.end_user_admin_update(
            project=self.client.project, end_user=target, **data
        )
        return Response(s.AdminEndUserOutput(updated).data)

    @extend_schema(operation_id="client_admin_user_delete", responses={204: None})
    def delete(self, request, end_user):
        accounts.end_user_delete(project=self.client.project, end_user=self.target())
        return Response(status=status.HTTP_204_NO_CONTENT)
