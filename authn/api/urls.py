from django.urls import path

from authn.api import views

urlpatterns = [
    path("auth/register/", views.RegisterView.as_view(), name="auth-register"),
    path("auth/login/", views.LoginView.as_view(), name="auth-login"),
    path("auth/refresh/", views.RefreshView.as_view(), name="auth-refresh"),
    path("auth/logout/", views.LogoutView.as_view(), name="auth-logout"),
    path("auth/logout-all/", views.LogoutAllView.as_view(), name="auth-logout-all"),
    path("auth/me/", views.MeView.as_view(), name="auth-me"),
    path("auth/switch-org/", views.SwitchOrgView.as_view(), name="auth-switch-org"),
    path("auth/password/change/", views.PasswordChangeView.as_view(), name="auth-password-change"),
    path("auth/password/reset/", views.PasswordResetView.as_view(), name="auth-password-reset"),
    path(
        "auth/password/reset/confirm/",
        views.PasswordResetConfirmView.as_view(),
        name="auth-password-reset-confirm",
    ),
    path("auth/email/verify/", views.EmailVerifyView.as_view(), name="auth-email-verify"),
    path(
        "auth/email/verify/confirm/",
        views.EmailVerifyConfirmView.as_view(),
        name="auth-email-verify-confirm",
    ),
    path("auth/sessions/", views.SessionListView.as_view(), name="auth-sessions"),
    path(
        "auth/sessions/<uuid:session_id>/",
        views.SessionDetailView.as_view(),
        name="auth-session-detail",
    ),
]
