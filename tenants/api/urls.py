from tenants.api import keys, views
from tenants.api.routes import ORG, ORGS, PROJECT, UUID, route

urlpatterns = [
    route(ORGS, views.OrgListView),
    route(ORG, views.OrgDetailView),
    route(ORG + r"/members", views.MemberListView),
    route(ORG + r"/members/(?P<user_id>[0-9]{1,18})", views.MemberDetailView),
    route(ORG + r"/projects", views.ProjectListView),
    route(PROJECT, views.ProjectDetailView),
    route(ORG + r"/invitations", views.InvitationListView),
    route(ORG + rf"/invitations/(?P<invitation>{UUID})", views.InvitationDetailView),
    route(r"^invitations/accept", views.InvitationAcceptView),
    route(PROJECT + r"/keys", keys.KeyListView),
    route(PROJECT + rf"/keys/(?P<key_id>{UUID})", keys.KeyDetailView),
    route(PROJECT + rf"/keys/(?P<key_id>{UUID})/rotate", keys.KeyRotateView),
]
