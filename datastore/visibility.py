"""Who may see a record: the Python twin of the row-level security policy on records.

``RECORD_POLICY`` (``datastore/migrations/0002_row_level_security.py``) shows a row to a
transaction of the row's org when the collection is not owner-only, or the row's owner is the
current user, or the current role is owner or admin of the org. Callers that hold a record
change rather than a query (realtime decides every change event for every socket with it) call
:func:`record_visible` with the change's ``owner_only`` and ``owner_id``; a test checks it
against the policy, through the application role, for every role and access rule.
"""

from tenants.constants import PRIVILEGED_ROLES


def record_visible(
    *, role: str | None, user_id: int, owner_id: int | None, owner_only: bool
) -> bool:
    """Would the data API show this row of an org to ``user_id``, a member with ``role``?

    ``role`` None means not a member: the tenant middleware refuses such a caller before any
    query runs, so nothing is visible.
    """
    if role is None:
        return False
    return not owner_only or owner_id == user_id or role in PRIVILEGED_ROLES
