"""A bulk create announces its records once, after commit (``records_created``), and every
subscriber of single-record changes subscribes to it too: a receiver that knew only
``record_changed`` would miss every bulk-created record."""

import pytest

from datastore import services
from datastore.models import Record
from datastore.signals import record_changed, records_created
from tests.datastore.conftest import as_member

pytestmark = pytest.mark.django_db


def _modules(signal) -> set[str]:
    sync_receivers, async_receivers = signal._live_receivers(Record)
    return {r.__module__ for r in [*sync_receivers, *async_receivers]}


def test_every_record_changed_subscriber_also_takes_records_created():
    assert _modules(record_changed)  # the platform's own: compute and realtime
    assert _modules(record_changed) == _modules(records_created)


def test_one_announcement_after_commit_with_every_record_in_order(
    membership_a, project_a, make_collection, django_capture_on_commit_callbacks
):
    collection = make_collection(membership_a, project_a)
    singles, bulks = [], []

    def single(sender, **kwargs):
        singles.append(kwargs)

    def bulk(sender, **kwargs):
        bulks.append(kwargs)

    record_changed.connect(single)
    records_created.connect(bulk)
    try:
        as_member(membership_a)
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            created = services.record_bulk_create(
                membership=membership_a,
                collection=collection,
                items=[{"n": n} for n in range(5)],
            )
        assert bulks == []  # nothing before commit
        for callback in callbacks:
            callback()
    finally:
        record_changed.disconnect(single)
        records_created.disconnect(bulk)
    assert singles == []
    (event,) = bulks
    assert event["records"] == [(r.pk, {"n": n}) for n, r in enumerate(created)]
    assert event["org_id"] == membership_a.org_id
    assert event["collection_id"] == collection.pk
    assert event["owner_id"] == membership_a.user_id
    assert event["owner_only"] is False
