from access.api import views
from tenants.api.routes import PROJECT, route

urlpatterns = [
    route(PROJECT + r"/rules", views.RuleListView),
]
