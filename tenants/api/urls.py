from django.urls import path

from platform_site.routers import OptionalSlashRouter
from tenants.api import views

router = OptionalSlashRouter()
router.register("orgs", views.OrganizationViewSet, basename="org")
router.register(r"orgs/(?P<org>[^/]+)/members", views.MemberViewSet, basename="org-member")
router.register(r"orgs/(?P<org>[^/]+)/projects", views.ProjectViewSet, basename="org-project")
router.register(
    r"orgs/(?P<org>[^/]+)/invitations", views.InvitationViewSet, basename="org-invitation"
)

urlpatterns = [
    path("invitations/accept/", views.InvitationAcceptView.as_view(), name="invitation-accept"),
    *router.urls,
]
