"""Signals other apps connect to.

``hotkey_detected(sender, key, rate, window, threshold)`` fires once per key per cooldown when a
key's access rate over the window reaches ``REDIS_HOTKEY_THRESHOLD`` (accesses per second).
"""

from django.dispatch import Signal

hotkey_detected = Signal()
