"""pytest plugin for ``make test``'s parallel run (pytest-xdist, ``scripts/devstack.py test``).

Each worker gets servers of its own (PostgreSQL, Redis, a var directory), so that tests
which commit, truncate or flush never meet another worker's: devstack passes each worker's
settings as ``PLATFORM_TEST_SHARD_<worker id>`` (JSON), applied here before Django's
settings are read. The processes a test starts inherit them.
"""

import json
import os

_worker = os.environ.get("PYTEST_XDIST_WORKER")
_shard = os.environ.get(f"PLATFORM_TEST_SHARD_{_worker}") if _worker else None
if _shard:
    os.environ.update(json.loads(_shard))
