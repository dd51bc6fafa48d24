"""Per-project turns for outgoing deliveries, so one tenant's burst cannot starve the others.

Every delivery task asks ``delay_for(project_id)`` before it touches the database or the
network. Each project may start ``OUTBOUND_PROJECT_RATE`` ("<count>/<seconds>") deliveries per
window, counted in Redis by ``cache.ratelimit`` (shared by every worker). A delivery over the
limit is not run: its task is queued again with the returned countdown, which points at the
window where its place in the burst falls, so a burst of N waits about N / count windows and
each excess delivery is re-queued about once. Meanwhile the worker moves on to the next task in
the shared queue, usually another project's.
"""

from django.conf import settings

from cache import ratelimit


def rate() -> tuple[int, int]:
    """``OUTBOUND_PROJECT_RATE`` as (count, seconds); ValueError unless both are positive."""
    count, _, seconds = str(settings.OUTBOUND_PROJECT_RATE).partition("/")
    limit, window = int(count), int(seconds)
    if limit < 1 or window < 1:
        raise ValueError(f"OUTBOUND_PROJECT_RATE must be <count>/<seconds>, not {count}/{seconds}")
    return limit, window


def delay_for(project_id) -> float:
    """Seconds this project's next delivery must wait; 0.0 when it may go now."""
    limit, window = rate()
    decision = ratelimit.hit(f"outbound:project:{project_id}", limit=limit, window=window)
    if decision.allowed:
        return 0.0
    windows_ahead = (decision.count - limit - 1) // limit
    return round(decision.reset_in + windows_ahead * window, 3)
