"""The shared latency histogram: cumulative buckets, sum/count, quantile as a bucket bound."""

from smsswitch.histogram import Histogram


def test_buckets_are_cumulative_and_quantiles_are_upper_bounds() -> None:
    histogram = Histogram((0.001, 0.01, 0.1))
    for value in [0.0005] * 50 + [0.005] * 45 + [0.05] * 4 + [5.0]:
        histogram.observe(value)
    snap = histogram.snapshot()
    assert snap["buckets"] == [(0.001, 50), (0.01, 95), (0.1, 99)]
    assert snap["count"] == 100 and abs(snap["sum"] - (0.025 + 0.225 + 0.2 + 5.0)) < 1e-9
    assert histogram.quantile(0.5) == 0.001
    assert histogram.quantile(0.99) == 0.1
    assert histogram.quantile(1.0) == float("inf")


def test_empty_histogram() -> None:
    assert Histogram().snapshot()["p99"] == 0.0
