"""The Mini App server's small rules: byte ranges and each user's request budget."""

from __future__ import annotations

from bot.webapp.api import RequestBudget, _byte_range


def test_byte_ranges_as_a_video_element_asks_for_them() -> None:
    assert _byte_range(None, 1000) is None
    assert _byte_range("bytes=0-", 1000) == (0, 999)
    assert _byte_range("bytes=100-199", 1000) == (100, 199)
    assert _byte_range("bytes=900-5000", 1000) == (900, 999)  # clipped to the file
    assert _byte_range("bytes=-100", 1000) == (900, 999)
    assert _byte_range("bytes=-5000", 1000) == (0, 999)
    assert _byte_range("bytes=1000-", 1000) is False  # starts past the end: 416
    assert _byte_range("bytes=5-4", 1000) is False
    assert _byte_range("bytes=-0", 1000) is False
    assert _byte_range("bytes=0-1,5-6", 1000) is None  # several: the whole file
    assert _byte_range("items=0-1", 1000) is None
    assert _byte_range("bytes=a-b", 1000) is None


def test_each_user_has_a_burst_then_a_steady_rate() -> None:
    budget = RequestBudget(burst=3, per_s=1.0)
    assert [budget.take(1, now=0.0) for _ in range(4)] == [True, True, True, False]
    assert budget.take(2, now=0.0)  # someone else is not held up
    assert not budget.take(1, now=0.5)
    assert budget.take(1, now=1.6)


def test_the_budget_forgets_users_who_have_refilled() -> None:
    budget = RequestBudget(burst=2, per_s=1.0)
    for user in range(10_001):
        budget.take(user, now=0.0)
    budget.take(99_999, now=100.0)  # everyone else refilled long ago
    assert len(budget._buckets) == 1
