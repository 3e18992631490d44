from __future__ import annotations

from xroad_vtj.metrics import Metrics


def test_a_remembered_child_is_the_metrics_own_child_and_counts_into_it() -> None:
    metrics = Metrics()
    child = metrics.child(metrics.queries, "found", "HenkilonTunnusKysely")
    assert child is metrics.queries.labels(outcome="found", operation="HenkilonTunnusKysely")
    assert metrics.child(metrics.queries, "found", "HenkilonTunnusKysely") is child
    child.inc()
    metrics.child(metrics.queries, "not_found", "HenkilonTunnusKysely").inc(2)
    sample = metrics.registry.get_sample_value
    assert sample("xroad_vtj_queries_total", {"outcome": "found", "operation": "HenkilonTunnusKysely"}) == 1
    assert (
        sample("xroad_vtj_queries_total", {"outcome": "not_found", "operation": "HenkilonTunnusKysely"}) == 2
    )


def test_children_are_kept_per_metrics_instance() -> None:
    first, second = Metrics(), Metrics()
    first.child(first.http_duration, "/v1/person-queries").observe(0.01)
    second.child(second.http_duration, "/v1/person-queries").observe(0.02)
    assert (
        first.registry.get_sample_value(
            "xroad_vtj_http_request_duration_seconds_sum", {"route": "/v1/person-queries"}
        )
        == 0.01
    )
