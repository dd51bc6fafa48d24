"""Per-project turns, counted in the real Redis: a project's excess waits for the window its
place in the burst falls in; another project is not counted against it."""

import uuid

import pytest

from outbound import fairness


def test_a_burst_is_spread_over_the_windows_it_needs(settings):
    settings.OUTBOUND_PROJECT_RATE = "2/60"
    busy, quiet = uuid.uuid4(), uuid.uuid4()
    waits = [fairness.delay_for(busy) for _ in range(7)]
    assert waits[:2] == [0.0, 0.0]
    assert all(wait > 0 for wait in waits[2:])
    # Places 3-4 wait for the next window, 5-6 for the one after, 7 for the third.
    assert waits[3] == pytest.approx(waits[2], abs=0.05)
    assert waits[5] == pytest.approx(waits[4], abs=0.05)
    assert waits[4] - waits[2] == pytest.approx(60, abs=0.05)
    assert waits[6] - waits[4] == pytest.approx(60, abs=0.05)
    assert fairness.delay_for(quiet) == 0.0
