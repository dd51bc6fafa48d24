"""GoTrue's paths, without trailing slashes as auth-js builds them (``<url>/auth/v1/...``)."""

from django.urls import path

from compat.auth import views

urlpatterns = [
    path("signup", views.SignupView.as_view(), name="gotrue-signup"),
    path("token", views.TokenView.as_view(), name="gotrue-token"),
    path("user", views.UserView.as_view(), name="gotrue-user"),
    path("logout", views.LogoutView.as_view(), name="gotrue-logout"),
    path("recover", views.RecoverView.as_view(), name="gotrue-recover"),
    path("verify", views.VerifyView.as_view(), name="gotrue-verify"),
    path("settings", views.SettingsView.as_view(), name="gotrue-settings"),
    path("admin/users", views.AdminUserListView.as_view(), name="gotrue-admin-users"),
    path(
        "admin/users/<uuid:end_user>",
        views.AdminUserDetailView.as_view(),
        name="gotrue-admin-user",
    ),
]
