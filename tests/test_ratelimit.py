"""The shared GCRA limiter, driven with a fake clock (no sleeping, no timing assertions)."""

from hypothesis import given, strategies as st

from smsswitch.ratelimit import RateLimiter


def test_try_acquire_allows_exactly_the_rate_per_second() -> None:
    limiter = RateLimiter(rate=100, burst=1)
    allowed = 0
    # 10,000 attempts spread evenly over one simulated second.
    for i in range(10_000):
        if limiter.try_acquire(now=i / 10_000):
            allowed += 1
    assert allowed == 100


def test_burst_allows_that_many_back_to_back_then_refuses() -> None:
    limiter = RateLimiter(rate=10, burst=5)
    assert [limiter.try_acquire(now=0.0) for _ in range(6)] == [True] * 5 + [False]
    assert limiter.try_acquire(now=0.1)  # one interval later, one more


def test_refusal_takes_nothing() -> None:
    limiter = RateLimiter(rate=1, burst=1)
    assert limiter.try_acquire(0.0)
    for _ in range(100):
        assert not limiter.try_acquire(0.5)
    assert limiter.try_acquire(1.0)


def test_reserve_spaces_events_evenly() -> None:
    limiter = RateLimiter(rate=50)
    send_times = [0.0 + limiter.reserve(now=0.0) for _ in range(5)]
    assert send_times == [0.0, 0.02, 0.04, 0.06, 0.08]


def test_unlimited() -> None:
    limiter = RateLimiter(rate=None)
    assert limiter.unlimited
    assert all(limiter.try_acquire(0.0) for _ in range(1000))
    assert limiter.reserve(0.0) == 0.0


def test_slow_down_delays_the_next_event() -> None:
    limiter = RateLimiter(rate=100)
    limiter.slow_down(now=0.0, seconds=1.0)
    assert not limiter.try_acquire(0.5)
    assert limiter.reserve(0.5) > 0.49


def test_slow_downs_do_not_add_up() -> None:
    """Every throttled batch of a storm pauses: the pauses overlap, they are not a queue."""
    limiter = RateLimiter(rate=100)
    for i in range(20):
        limiter.slow_down(now=i * 0.1, seconds=1.6)
    assert limiter.reserve(1.9 + 1.6) == 0.0


def test_set_rate_changes_spacing() -> None:
    limiter = RateLimiter(rate=10)
    limiter.set_rate(100)
    first = limiter.reserve(0.0)
    second = limiter.reserve(0.0)
    assert first == 0.0 and abs(second - 0.01) < 1e-9


@given(
    rate=st.floats(min_value=1, max_value=10_000),
    burst=st.integers(min_value=1, max_value=50),
    times=st.lists(st.floats(min_value=0, max_value=10), min_size=1, max_size=300),
)
def test_never_more_than_rate_times_window_plus_burst(rate: float, burst: int, times: list[float]) -> None:
    limiter = RateLimiter(rate=rate, burst=burst)
    accepted = [t for t in sorted(times) if limiter.try_acquire(t)]
    span = accepted[-1] - accepted[0] if accepted else 0.0
    assert len(accepted) <= rate * span + burst + 1e-6
