from __future__ import annotations

from driftloop.messaging import SeenIds


def test_seen_ids_is_bounded_and_forgets_the_oldest() -> None:
    seen = SeenIds(capacity=3)
    firsts = [seen.first_time(i) for i in ["a", "b", "a", "c", "d"]]
    assert firsts == [True, True, False, True, True]
    assert len(seen) == 3
    assert seen.first_time("a") is True  # evicted, so new again
    assert seen.first_time("d") is False
