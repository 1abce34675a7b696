"""bench/report.py's saturation verdict, on a synthetic result folder: a ratio is claimed only
against the higher of the bcrypt limits measured before and after the scenarios (the machine's
speed drifts), and an after-measurement of another run is not this run's."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from bench import report

TARGET = "saturation: sustained completions ≥ 0.9 x the bcrypt limit"
RUN = "2026-11-30T08:05:36+00:00"


def _write(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data))


def _folder(tmp_path: Path, before: float, after: float | None, after_run: str = RUN) -> Path:
    """One saturation step of 400 journeys, all completed, judged on 30 s x (1 - 0.34) = 19.8 s:
    20.2 completions/s."""
    limits: dict[str, Any] = {"scenario": "limits", "run_started": after_run, "ok": True}
    if after is not None:
        limits["bcrypt_after_per_s"] = after
    _write(tmp_path / "meta-limits.json", limits)
    _write(
        tmp_path / "meta-saturation.json",
        {
            "scenario": "saturation",
            "run_started": RUN,
            "ok": True,
            "rates": [20.0],
            "hold_s": 30,
            "settle": 0.34,
            "limits": {"bcrypt_per_s": before},
        },
    )
    step = "{step:0}"
    _write(
        tmp_path / "summary-saturation.json",
        {
            "metrics": {
                f"submits{step}": {"count": 400},
                f"completions{step}": {"count": 400},
                f"journeys_failed{step}": {"count": 0},
                f"time_to_qr{step}": {"p(95)": 500.0, "med": 300.0},
            }
        },
    )
    return tmp_path


def _verdict(out: Path) -> tuple[bool | None, str]:
    r = report.Report(out)
    r.saturation()
    found = [(ok, detail) for text, ok, detail in r.targets if text == TARGET]
    assert len(found) == 1, r.targets
    return found[0]


@pytest.mark.parametrize(
    ("before", "after", "after_run", "passes"),
    [
        (21.0, None, RUN, True),  # 20.2 / 21 = 0.96: no second measurement
        (21.0, 21.5, RUN, True),  # 0.94 of the higher
        (21.0, 25.0, RUN, False),  # 0.96 of the first, 0.81 of the second: not claimed
        (25.0, 21.0, RUN, False),  # 0.81 of the first
        (21.0, 25.0, "2026-11-29T10:00:00+00:00", True),  # another run's measurement
    ],
)
def test_saturation_is_judged_on_the_higher_bcrypt_measurement(
    tmp_path: Path, before: float, after: float | None, after_run: str, passes: bool
) -> None:
    ok, detail = _verdict(_folder(tmp_path, before, after, after_run))
    assert ok is passes, detail
    assert detail.startswith("20.2/s vs bcrypt"), detail
    assert ("measured after the scenarios" in detail) is (after is not None and after_run == RUN)
