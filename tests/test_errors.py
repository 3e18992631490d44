from xroad_vtj.errors import InvalidHetu, UpstreamFault


def test_problem_document_carries_stable_code_and_status() -> None:
    err = UpstreamFault("fault from provider", fault_code="Server.ServerProxy.X", fault_detail=None)
    doc = err.problem()
    assert doc["code"] == "upstream_fault"
    assert doc["status"] == 502
    assert doc["fault_code"] == "Server.ServerProxy.X"
    assert "fault_detail" not in doc


def test_invalid_hetu_is_a_400_invalid_request() -> None:
    assert InvalidHetu.status == 400
    assert InvalidHetu().problem()["code"] == "invalid_hetu"
