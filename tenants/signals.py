"""Membership events other apps react to (realtime narrows the sockets of the member).

``membership_changed(sender, org_id, user_id)`` is sent after a member's removal or role
change commits.
"""

from django.dispatch import Signal

membership_changed = Signal()
