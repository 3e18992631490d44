from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
import structlog

from xroad_vtj.demo import DemoPortInUse, run_demo


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    """The demo configures logging onto the stderr pytest captures for this test: undo it for later tests."""
    yield
    structlog.reset_defaults()


def free_port_block() -> int:
    for _ in range(50):
        with socket.socket() as a:
            a.bind(("127.0.0.1", 0))
            port = a.getsockname()[1]
        if port < 65000:
            try:
                for offset in (1, 2):
                    with socket.socket() as b:
                        b.bind(("127.0.0.1", port + offset))
                return port
            except OSError:
                continue
    raise RuntimeError("no free ports")


async def test_demo_runs_the_example_query_against_the_built_in_simulator(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = await run_demo(tmp_path / "demo", port=free_port_block(), example_only=True)
    out = capsys.readouterr().out
    assert code == 0
    assert '"outcome": "found"' in out
    assert "curl" not in out  # the service has stopped: nothing to try
    assert (tmp_path / "demo" / "config.yaml").exists()


@pytest.mark.parametrize(("offset", "named"), [(0, "the API"), (1, "security server"), (2, "metrics")])
async def test_a_taken_demo_port_is_refused_naming_that_port_and_its_use(
    tmp_path: Path, offset: int, named: str
) -> None:
    port = free_port_block()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", port + offset))
        taken.listen()
        with pytest.raises(DemoPortInUse) as refused:
            await run_demo(tmp_path / "demo", port=port, example_only=True)
    assert f"port {port + offset} (" in refused.value.detail
    assert named in refused.value.detail
    assert "--port" in refused.value.detail
    assert not (tmp_path / "demo").exists()  # nothing was started or written
