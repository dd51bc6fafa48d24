from django.urls import path

from endusers.api import views

urlpatterns = [
    path("project/", views.ClientProjectView.as_view(), name="client-project"),
    path("auth/signup/", views.SignupView.as_view(), name="client-auth-signup"),
    path("auth/signin/", views.SigninView.as_view(), name="client-auth-signin"),
    path("auth/anonymous/", views.AnonymousView.as_view(), name="client-auth-anonymous"),
    path("auth/refresh/", views.RefreshView.as_view(), name="client-auth-refresh"),
    path("auth/signout/", views.SignoutView.as_view(), name="client-auth-signout"),
    path("auth/user/", views.UserView.as_view(), name="client-auth-user"),
    path("auth/verify/", views.VerifyView.as_view(), name="client-auth-verify"),
    path("auth/recover/", views.RecoverView.as_view(), name="client-auth-recover"),
    path("auth/reset/", views.ResetView.as_view(), name="client-auth-reset"),
    path("auth/admin/users/", views.AdminUserListView.as_view(), name="client-admin-users"),
    path(
        "auth/admin/users/<uuid:end_user>/",
        views.AdminUserDetailView.as_view(),
        name="client-admin-user",
    ),
]
