"""Writes of the auth service, one module per concern.

``accounts`` (sign-up, profile, deactivation), ``sessions`` (login, refresh rotation,
logout, revocation, org switch), ``passwords`` (change and reset), ``email_verification``
and ``session_check`` (what every bearer request and websocket runs: the access token, then
its session, Redis first and PostgreSQL behind it).

A ``Session`` row in PostgreSQL is the truth; ``cache.sessions`` holds a copy in Redis.
Services that can fail after writing something that must stay (a failed login's audit row,
the revocation that follows refresh-token reuse) return a result instead of raising, because
an API error rolls the request's transaction back.
"""
