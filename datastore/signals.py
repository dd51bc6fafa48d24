"""The one hook every record write calls after commit (realtime and webhooks subscribe here).

``record_changed`` is sent with keyword arguments ``org_id``, ``project_id``,
``collection_id``, ``record_id``, ``owner_id``, ``end_user_id`` (a client app's row: the end
user who wrote it, as the database stored it), ``owner_only`` (the collection's access rule
at write time), ``request_id`` (of the write), ``op`` ("create", "update", "delete") and
``data`` (the record's data after the change; the data before it for a delete), and the
row's ``created_at`` and ``updated_at``.
"""

from django.dispatch import Signal

record_changed = Signal()

# A bulk create (``record_bulk_create``) sends one ``records_created`` after commit instead of
# one ``record_changed`` per record: ``org_id``, ``project_id``, ``collection_id``,
# ``owner_id``, ``owner_only``, ``request_id`` as above, and ``records``, a list of
# ``(record_id, data)`` in insertion order (``op`` is "create"). A receiver of
# ``record_changed`` receives this one too (``tests/datastore/test_bulk_signals.py`` checks).
records_created = Signal()

# ``op`` as subscribers name it to their clients (Supabase's words): realtime events and
# webhook deliveries say insert/update/delete.
EVENT_NAMES = {"create": "insert", "update": "update", "delete": "delete"}
