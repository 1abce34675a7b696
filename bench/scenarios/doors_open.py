"""doors-open: 500 people arriving at a real opening, each through the whole guest page."""

from __future__ import annotations

from bench.harness.bench import Bench
from guestlist import demo

PAGE_PATH = demo.PAGE_PATH


def run(bench: Bench) -> None:
    with bench.scenario("doors-open") as meta:
        m = bench.mode
        meta.update(
            people=m.doors_people,
            ramp_s=m.doors_ramp,
            hold_s=m.doors_hold,
            think_s=list(m.doors_think),
            register_share=0.6,
        )
        env = {
            "PEOPLE": str(m.doors_people),
            "RAMP": str(m.doors_ramp),
            "HOLD": str(m.doors_hold),
            "THINK_MIN": str(m.doors_think[0]),
            "THINK_MAX": str(m.doors_think[1]),
            "REGISTER_SHARE": "0.6",
            "PAGE_PATH": PAGE_PATH,
        }
        expect = m.doors_ramp + m.doors_hold + m.doors_think[1] + 60
        bench.queue_run("doors-open", "doors-open.js", env, expect, meta)
