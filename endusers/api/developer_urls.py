from endusers.api import developer as views
from tenants.api.routes import PROJECT, UUID, route

END_USER = PROJECT + rf"/end-users/(?P<end_user>{UUID})"

urlpatterns = [
    route(PROJECT + r"/end-users", views.EndUserListView),
    route(END_USER, views.EndUserDetailView),
    route(END_USER + r"/sessions", views.EndUserSessionsView),
    route(PROJECT + r"/auth-settings", views.AuthSettingsView),
]
