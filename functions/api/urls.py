from functions.api import views
from tenants.api.routes import PROJECT, route

FUNCTION = PROJECT + r"/functions/(?P<function>[a-z][a-z0-9-]{0,62})"

urlpatterns = [
    route(PROJECT + r"/functions", views.FunctionListView),
    route(FUNCTION, views.FunctionDetailView),
    route(FUNCTION + r"/versions", views.VersionListView),
    route(FUNCTION + r"/versions/(?P<number>[0-9]{1,9})", views.VersionDetailView),
    route(FUNCTION + r"/rollback", views.RollbackView),
    route(FUNCTION + r"/invocations", views.InvocationListView),
    route(FUNCTION + r"/invoke", views.InvokeView),
]
