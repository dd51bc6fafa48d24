"""An org's alert channels (with "send a test notification") and its recent alerts, built on
``tenants.api.base.OrgView``."""

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.response import Response

from observability import selectors, services
from observability.api import serializers as s
from tenants.api.base import OrgView, found, valid
from tenants.constants import MANAGE_ALERTS, VIEW_ALERTS


class ChannelView(OrgView):
    def channel(self):
        return found(selectors.channel_get(org=self.request.org, channel_id=self.kwargs["channel"]))


class AlertChannelListView(ChannelView):
    required_perms = {"get": VIEW_ALERTS, "post": MANAGE_ALERTS}

    @extend_schema(responses=s.ChannelSerializer(many=True))
    def get(self, request, org):
        channels = selectors.channel_list(org=request.org)
        return Response(s.ChannelSerializer(channels, many=True).data)

    @extend_schema(request=s.ChannelCreateSerializer, responses={201: s.ChannelSerializer})
    def post(self, request, org):
        data = valid(s.ChannelCreateSerializer, request.data)
        channel = services.channel_create(membership=request.membership, **data)
        return Response(s.ChannelSerializer(channel).data, status=status.HTTP_201_CREATED)


class AlertChannelDetailView(ChannelView):
    required_perms = {"get": VIEW_ALERTS, "delete": MANAGE_ALERTS}

    @extend_schema(responses=s.ChannelSerializer)
    def get(self, request, org, channel):
        return Response(s.ChannelSerializer(self.channel()).data)

    @extend_schema(responses={204: None})
    def delete(self, request, org, channel):
        services.channel_delete(membership=request.membership, channel=self.channel())
        return Response(status=status.HTTP_204_NO_CONTENT)


class AlertChannelTestView(ChannelView):
    """Send a test notification through this channel (delivered by a background task)."""

    required_perms = {"post": MANAGE_ALERTS}

    @extend_schema(
        request=None, responses={202: OpenApiResponse(description="Test notification queued")}
    )
    def post(self, request, org, channel):
        services.channel_test(membership=request.membership, channel=self.channel())
        return Response({"status": "queued"}, status=status.HTTP_202_ACCEPTED)


class AlertView(OrgView):
    def alert(self):
        return found(selectors.alert_get(org=self.request.org, alert_id=self.kwargs["alert"]))


class AlertListView(AlertView):
    required_perms = {"get": VIEW_ALERTS}

    @extend_schema(responses=s.AlertSerializer(many=True))
    def get(self, request, org):
        return Response(s.AlertSerializer(selectors.alert_list(org=request.org), many=True).data)


class AlertDetailView(AlertView):
    required_perms = {"get": VIEW_ALERTS}

    @extend_schema(responses=s.AlertSerializer)
    def get(self, request, org, alert):
        return Response(s.AlertSerializer(self.alert()).data)


class AlertAcknowledgeView(AlertView):
    required_perms = {"post": MANAGE_ALERTS}

    @extend_schema(request=None, responses=s.AlertSerializer)
    def post(self, request, org, alert):
        acknowledged = services.alert_acknowledge(
            alert=self.alert(), actor=request.user, membership=request.membership
        )
        return Response(s.AlertSerializer(acknowledged).data)
