"""The rendered alert rules pass `promtool check rules`, and fire as intended in `promtool test rules`.

promtool comes with Debian's `prometheus` package (.ci/run installs it); without it these tests skip, except in
CI (`CI` set), where they fail.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.helm.chart import CHART_DIR, FULLNAME, NAMESPACE, load_values, render

PROMTOOL = shutil.which("promtool")
SEL = f'namespace="{NAMESPACE}", job="{FULLNAME}"'

if PROMTOOL is None:
    if os.environ.get("CI"):
        pytest.fail("promtool is missing in CI (apt-get install prometheus)", pytrace=False)
    pytestmark = pytest.mark.skip(reason="promtool is not installed (Debian package prometheus)")


def rules_file(tmp_path: Path, *, annotations: bool = True) -> Path:
    values = load_values(CHART_DIR / "ci" / "monitoring-values.yaml")
    spec = render(values).one("PrometheusRule")["spec"]
    if not annotations:
        # The firing tests compare labels; promtool would otherwise demand every annotation text verbatim.
        spec = {
            "groups": [
                {**g, "rules": [{k: v for k, v in r.items() if k != "annotations"} for r in g["rules"]]}
                for g in spec["groups"]
            ]
        }
    path = tmp_path / "rules.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


def promtool(*args: str) -> subprocess.CompletedProcess[str]:
    assert PROMTOOL is not None
    return subprocess.run([PROMTOOL, *args], capture_output=True, text=True, timeout=120)


def test_promtool_accepts_every_rule(tmp_path: Path) -> None:
    done = promtool("check", "rules", str(rules_file(tmp_path)))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS" in done.stdout


def alert_test(tmp_path: Path, series: list[dict[str, str]], alerts: list[dict[str, Any]]) -> str:
    rules = rules_file(tmp_path, annotations=False)
    test = {
        "rule_files": [str(rules)],
        "evaluation_interval": "1m",
        "tests": [{"interval": "1m", "input_series": series, "alert_rule_test": alerts}],
    }
    path = tmp_path / "test.yaml"
    path.write_text(yaml.safe_dump(test, sort_keys=False))
    done = promtool("test", "rules", str(path))
    return done.stdout + done.stderr if done.returncode else ""


def fired(severity: str, **extra: str) -> dict[str, Any]:
    return {
        "exp_labels": {
            "severity": severity,
            "team": "population-data",
            "namespace": NAMESPACE,
            "job": FULLNAME,
            **extra,
        }
    }


def test_route_down_fires_after_five_minutes_of_no_answer_on_every_replica(tmp_path: Path) -> None:
    series = [
        {"series": f'xroad_vtj_route_up{{{SEL}, instance="a"}}', "values": "1 0x10"},
        {"series": f'xroad_vtj_route_up{{{SEL}, instance="b"}}', "values": "1 0x10"},
    ]
    failures = alert_test(
        tmp_path,
        series,
        [
            {"eval_time": "4m", "alertname": "XroadVtjRouteDown", "exp_alerts": []},
            {"eval_time": "7m", "alertname": "XroadVtjRouteDown", "exp_alerts": [fired("critical")]},
        ],
    )
    assert failures == "", failures


def test_one_replica_reaching_vtj_keeps_route_down_silent(tmp_path: Path) -> None:
    series = [
        {"series": f'xroad_vtj_route_up{{{SEL}, instance="a"}}', "values": "0x10"},
        {"series": f'xroad_vtj_route_up{{{SEL}, instance="b"}}', "values": "1x10"},
    ]
    failures = alert_test(
        tmp_path, series, [{"eval_time": "10m", "alertname": "XroadVtjRouteDown", "exp_alerts": []}]
    )
    assert failures == "", failures


def test_a_rejected_password_fires_the_credentials_alert_at_once(tmp_path: Path) -> None:
    series = [
        {"series": f'xroad_vtj_vtj_return_codes_total{{{SEL}, return_code="0003"}}', "values": "0 0 3 3 3"},
        {
            "series": f'xroad_vtj_vtj_return_codes_total{{{SEL}, return_code="0000"}}',
            "values": "0 5 10 15 20",
        },
    ]
    failures = alert_test(
        tmp_path,
        series,
        [
            {"eval_time": "1m", "alertname": "XroadVtjCredentialsRejected", "exp_alerts": []},
            {
                "eval_time": "3m",
                "alertname": "XroadVtjCredentialsRejected",
                "exp_alerts": [fired("critical")],
            },
        ],
    )
    assert failures == "", failures


def test_bulk_use_names_the_caller_over_the_threshold(tmp_path: Path) -> None:
    series = [
        {
            "series": f'xroad_vtj_quota_refusals_total{{{SEL}, caller="portal", quota="per_caller_per_minute"}}',
            "values": "0+1x70",
        },
        {
            "series": f'xroad_vtj_quota_refusals_total{{{SEL}, caller="caseapp", quota="per_end_user_per_day"}}',
            "values": "0+0.1x70",
        },
    ]
    failures = alert_test(
        tmp_path,
        series,
        [
            {
                "eval_time": "65m",
                "alertname": "XroadVtjBulkUseSuspected",
                "exp_alerts": [fired("warning", caller="portal")],
            }
        ],
    )
    assert failures == "", failures
