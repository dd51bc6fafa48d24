from platform_site.routers import OptionalSlashRouter
from tenants.api import views

router = OptionalSlashRouter()
router.register("orgs", views.OrganizationViewSet, basename="org")
router.register(r"orgs/(?P<org>[^/]+)/members", views.MemberViewSet, basename="org-member")
router.register(r"orgs/(?P<org>[^/]+)/projects", views.ProjectViewSet, basename="org-project")

urlpatterns = router.urls
