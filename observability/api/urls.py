from observability.api import views
from platform_site.routers import OptionalSlashRouter

router = OptionalSlashRouter()
router.register(
    r"orgs/(?P<org>[^/]+)/alert-channels", views.AlertChannelViewSet, basename="org-alert-channel"
)
router.register(r"orgs/(?P<org>[^/]+)/alerts", views.AlertViewSet, basename="org-alert")

urlpatterns = router.urls
