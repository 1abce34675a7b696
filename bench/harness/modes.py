"""How long and how large each scenario runs in each mode (full, quick, smoke)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Mode:
    name: str
    users: int  # existing accounts made before each scenario
    pgbench_secs: int
    pgbench_runs: int  # median of
    http_levels: tuple[int, ...]  # VUs for the HTTP ceiling and the verify-phone comparison
    http_warmup: int
    http_secs: int
    http_rounds: int  # interleaved rounds (targets take turns): the median resists drift
    overload_time_scale: float  # 1 = the seed's 16 minutes
    overload_peak: int
    overload_carry: bool  # also run the seed's script scaled to the peak this machine can carry
    doors_people: int
    doors_ramp: int
    doors_hold: int
    doors_think: tuple[float, float]
    sat_hold: int
    sat_ramp: int
    sat_rates: tuple[float, ...] | None  # fixed (smoke) or derived from the bcrypt limit
    sat_settle: float  # share of each hold not judged (the queue settles into the new rate)
    ttq_levels: tuple[int, ...]  # time-to-qr: registrations sent at the same moment
    ttq_rounds: tuple[int, ...]  # … bursts of each level
    ttq_pause: float  # … seconds added to each burst's slot: the queue empties
    drain_timeout: int
    # door: DOOR_GUESTS seeded guests checked in by door_doors doors over door_secs seconds
    # (full: 2,000 in 10 minutes; quick keeps the rate, 400 in 2 minutes) beside doors-open
    door_guests: int = 2000
    door_doors: int = 4
    door_secs: int = 600
    # organizers: that many organizers refresh the console's list of the night's event, seeded
    # with organizers_guests guests, beside doors-open (its people, ramp and hold)
    organizers: int = 3
    organizers_guests: int = 20000


MODES: dict[str, Mode] = {
    "full": Mode(
        "full", users=60000, pgbench_secs=10, pgbench_runs=3,
        http_levels=(50, 200), http_warmup=5, http_secs=20, http_rounds=3,
        overload_time_scale=1.0, overload_peak=500, overload_carry=True,
        doors_people=500, doors_ramp=30, doors_hold=300, doors_think=(20, 40),
        sat_hold=30, sat_ramp=2, sat_rates=None, sat_settle=0.34,
        ttq_levels=(1, 20, 100), ttq_rounds=(20, 10, 5), ttq_pause=3, drain_timeout=900,
    ),
    "quick": Mode(
        "quick", users=60000, pgbench_secs=5, pgbench_runs=1,
        http_levels=(50, 200), http_warmup=2, http_secs=8, http_rounds=2,
        overload_time_scale=0.125, overload_peak=500, overload_carry=True,
        doors_people=500, doors_ramp=15, doors_hold=60, doors_think=(20, 40),
        sat_hold=10, sat_ramp=2, sat_rates=None, sat_settle=0.34,
        ttq_levels=(1, 20, 100), ttq_rounds=(5, 3, 2), ttq_pause=3, drain_timeout=300,
        door_guests=400, door_doors=4, door_secs=120,
    ),
    "smoke": Mode(
        "smoke", users=2000, pgbench_secs=1, pgbench_runs=1,
        http_levels=(5,), http_warmup=1, http_secs=1, http_rounds=1,
        overload_time_scale=0.003, overload_peak=4, overload_carry=False,
        doors_people=4, doors_ramp=1, doors_hold=2, doors_think=(0.2, 0.5),
        sat_hold=1, sat_ramp=1, sat_rates=(4, 6), sat_settle=0.0,
        ttq_levels=(1, 3), ttq_rounds=(1, 1), ttq_pause=1, drain_timeout=30,
        door_guests=20, door_doors=2, door_secs=5, organizers=1, organizers_guests=200,
    ),
}  # fmt: skip
