"""Auth events other apps react to (realtime closes the sockets of revoked sessions).

``sessions_revoked(sender, session_ids)`` is sent after the revocation commits.
"""

from django.dispatch import Signal

sessions_revoked = Signal()
