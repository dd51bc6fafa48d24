"""An org's alert channels (with "send a test notification") and its recent alerts."""

from django.http import Http404
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response

from observability import selectors, services
from observability.api import serializers as s
from observability.constants import MANAGE_ALERTS, VIEW_ALERTS
from tenants.permissions import OrgPermission


def _uuid_or_404(value):
    import uuid

    try:
        return uuid.UUID(str(value))
    except ValueError as exc:
        raise Http404 from exc


class AlertChannelViewSet(viewsets.ViewSet):
    lookup_field = "channel"
    lookup_value_regex = "[0-9a-fA-F-]{36}"
    permission_classes = [IsAuthenticated, OrgPermission]
    required_perms = {
        "list": VIEW_ALERTS,
        "retrieve": VIEW_ALERTS,
        "create": MANAGE_ALERTS,
        "destroy": MANAGE_ALERTS,
        "test": MANAGE_ALERTS,
    }

    def _get(self, request, channel):
        found = selectors.channel_get(org=request.org, channel_id=_uuid_or_404(channel))
        if found is None:
            raise Http404
        return found

    @extend_schema(responses=s.ChannelSerializer(many=True))
    def list(self, request, org=None):
        return Response(
            s.ChannelSerializer(selectors.channel_list(org=request.org), many=True).data
        )

    @extend_schema(request=s.ChannelCreateSerializer, responses={201: s.ChannelSerializer})
    def create(self, request, org=None):
        serializer = s.ChannelCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        channel = services.channel_create(
            membership=request.membership, **serializer.validated_data
        )
        return Response(s.ChannelSerializer(channel).data, status=status.HTTP_201_CREATED)

    @extend_schema(responses=s.ChannelSerializer)
    def retrieve(self, request, org=None, channel=None):
        return Response(s.ChannelSerializer(self._get(request, channel)).data)

    @extend_schema(responses={204: None})
    def destroy(self, request, org=None, channel=None):
        services.channel_delete(membership=request.membership, channel=self._get(request, channel))
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        request=None, responses={202: OpenApiResponse(description="Test notification queued")}
    )
    @action(detail=True, methods=["post"])
    def test(self, request, org=None, channel=None):
        """Send a test notification through this channel (delivered by a background task)."""
        services.channel_test(membership=request.membership, channel=self._get(request, channel))
        return Response({"status": "queued"}, status=status.HTTP_202_ACCEPTED)


class AlertViewSet(viewsets.ViewSet):
    lookup_field = "alert"
    lookup_value_regex = "[0-9a-fA-F-]{36}"
    permission_classes = [IsAuthenticated, OrgPermission]
    required_perms = {"list": VIEW_ALERTS, "retrieve": VIEW_ALERTS, "acknowledge": MANAGE_ALERTS}

    def _get(self, request, alert):
        found = selectors.alert_get(org=request.org, alert_id=_uuid_or_404(alert))
        if found is None:
            raise Http404
        return found

    @extend_schema(responses=s.AlertSerializer(many=True))
    def list(self, request, org=None):
        return Response(s.AlertSerializer(selectors.alert_list(org=request.org), many=True).data)

    @extend_schema(responses=s.AlertSerializer)
    def retrieve(self, request, org=None, alert=None):
        return Response(s.AlertSerializer(self._get(request, alert)).data)

    @extend_schema(request=None, responses=s.AlertSerializer)
    @action(detail=True, methods=["post"])
    def acknowledge(self, request, org=None, alert=None):
        acknowledged = services.alert_acknowledge(
            alert=self._get(request, alert), user=request.user
        )
        return Response(s.AlertSerializer(acknowledged).data)
