"""The throughput bench reads group commit from the service's own histogram."""

from __future__ import annotations

from bench.throughput import batch_figures


def test_the_median_commit_bucket_and_mean_come_from_the_difference_of_two_scrapes() -> None:
    before = {"1.0": 5, "2.0": 5, "4.0": 5, "8.0": 5, "16.0": 5, "+Inf": 5, "sum": 5, "count": 5}
    # 10 commits since: 2 of one record, 2 of 5-8 records, 6 of 9-16 records
    after = {"1.0": 7, "2.0": 7, "4.0": 7, "8.0": 9, "16.0": 15, "+Inf": 15, "sum": 5 + 2 + 14 + 67}
    after["count"] = 15
    figures = batch_figures(before, after)  # the lower median: a tie stays in the lower bucket
    assert (figures.commits, figures.records, figures.median_bucket) == (10, 83, "8-16")
    assert figures.mean == 8.3
    assert batch_figures(before, before).median_bucket == "none"
