"""What makes two errors the same: exception type plus the code location that raised it."""

import hashlib
import traceback
from pathlib import Path

from django.conf import settings

_BASE = str(Path(settings.BASE_DIR).resolve())


def location_of(exc: BaseException) -> str:
    """The innermost frame in our own code (else the innermost frame): ``path:function``.

    Line numbers are left out on purpose, so an edit above the raise keeps the group.
    """
    frames = traceback.extract_tb(exc.__traceback__)
    if not frames:
        return "unknown"
    ours = [f for f in frames if f.filename.startswith(_BASE) and "/.venv/" not in f.filename]
    frame = (ours or frames)[-1]
    path = frame.filename.removeprefix(_BASE).lstrip("/")
    return f"{path}:{frame.name}"


def fingerprint(exc: BaseException) -> tuple[str, str, str]:
    """``(digest, exception type, location)`` of ``exc``; the digest names its error group."""
    exc_type = f"{type(exc).__module__}.{type(exc).__qualname__}"
    location = location_of(exc)
    digest = hashlib.sha256(f"{exc_type}|{location}".encode()).hexdigest()[:40]
    return digest, exc_type, location
