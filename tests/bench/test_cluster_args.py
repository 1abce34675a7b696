"""bench/run.sh --cluster: what the runner accepts (the runs themselves: docs/scaling.md)."""

from __future__ import annotations

import pytest

from bench.harness.cluster import parse_event
from bench.runner import SCENARIOS, parse_args


def test_scaling_and_events_need_the_cluster() -> None:
    for argv in (["scaling"], ["--cluster-event", "restart@30", "doors-open"]):
        with pytest.raises(SystemExit):
            parse_args(argv)
    args = parse_args(["--cluster", "--cluster-event", "crash@40", "doors-open", "scaling"])
    assert args.cluster and args.cluster_event == "crash@40"
    assert args.scenarios == ["doors-open", "scaling"]


def test_the_default_scenarios_stay_the_single_process_ones() -> None:
    assert parse_args(["--cluster"]).scenarios == list(SCENARIOS)
    assert "scaling" not in SCENARIOS


@pytest.mark.parametrize("spec", ["explode@10", "restart@soon"])
def test_unknown_events_are_refused(spec: str) -> None:
    with pytest.raises(ValueError):
        parse_event(spec)


def test_an_event_without_a_time_happens_at_once() -> None:
    assert parse_event("failover") == "failover"
