"""The bench report: `python -m bench.report <results folder>` (bench/run.sh calls it).

Reads what the runner left in the folder — k6 summaries (summary-*.json, --summary-export),
the runner's meta-*.json and run.json, raw/ (k6 per-request CSV, queue and probe timelines) —
and writes report.md with the targets as PASS/FAIL lines, every result as a ratio to the
limit measured in the same run, and PNG plots (matplotlib): latency percentiles and
throughput over time per queue scenario, the saturation curve, the verify-phone comparison.
Nothing here asserts anything: a target that fails is a line that says FAIL.

Each section is written by its scenario (bench/scenarios/<name>.py; the limits' by
bench/harness/limits.py); this module writes the header and the targets table and puts the
sections in their order.
"""

from __future__ import annotations

import sys
from pathlib import Path

from bench.harness import limits
from bench.harness.document import Document, pf, table
from bench.scenarios import (
    console,
    door,
    doors_open,
    failover_loss,
    organizers,
    overload,
    saturation,
    sync_cost,
    time_to_qr,
    verify_phone,
)


class Report(Document):
    """The whole report: the run's header, the targets table, then each scenario's section."""

    def header(self) -> None:
        r = self.run
        pg = r.get("postgres") or {}
        self.w(f"# guestlist bench — {r.get('started', '?')[:10]} ({r.get('mode', '?')} run)", "")
        self.w(
            "The promise: 500+ people at once, p95 < 100 ms, 500+ registrations a minute, "
            "99.9% success. Every figure below was measured on this machine, with the load "
            "generator (k6) on the same machine as the server and the database; each is "
            "stated beside the limit measured in the same run as itself.",
            "",
        )
        earlier = {
            name: m
            for name, m in self.meta.items()
            if name != "limits" and m.get("started", "") < r.get("started", "")
        }
        if earlier:
            parts = []
            for name, m in sorted(earlier.items()):
                run = f", code {m.get('git')}, `bench/run.sh {' '.join(m.get('argv') or [])}`"
                parts.append(f"{name} (started {m.get('started')}{run if 'git' in m else ''})")
            self.w(
                "> **Scenarios from more than one run.** The table below describes the latest "
                "run; these sections come from an earlier run of the same day (each section "
                f"names its start and its own run's limits): {'; '.join(parts)}.",
                "",
            )
        if r.get("mode") != "full":
            self.w(
                f"> **{r.get('mode')} run**: shortened stages; the figures show the shape, "
                "not the promise. The promise is judged on a full run (`bench/run.sh`).",
                "",
            )
        load_start = r.get("loadavg_start") or [0]
        if load_start and load_start[0] > 0.5 * (r.get("ncpu") or 1):
            self.w(
                f"> **Noisy machine**: load average {load_start[0]:.2f} on {r.get('ncpu')} "
                "CPUs when the run started (other work was running); figures are low "
                "by an unknown amount.",
                "",
            )
        self.w(
            "| machine | |",
            "|---|---|",
            f"| CPU | {r.get('ncpu')} x {r.get('cpu_model')} |",
            f"| memory | {r.get('mem_gb')} GB |",
            f"| PostgreSQL | {str(pg.get('version', '?')).split(' on ')[0]}, "
            f"max_connections {pg.get('max_connections')}, shared_buffers "
            f"{pg.get('shared_buffers')}, fsync {pg.get('fsync')}, synchronous_commit "
            f"{pg.get('synchronous_commit')} |",
            f"| pools | app, bare app and PostGraphile: {r.get('pool_max')} connections each |",
            f"| tools | {r.get('k6')}; {r.get('pgbench')}; node {r.get('node')}; "
            f"Python {r.get('python')} |",
            f"| code | {r.get('git')} |",
            f"| load average | start {r.get('loadavg_start')}, end {r.get('loadavg_end')} |",
            f"| command | `bench/run.sh {' '.join(r.get('argv') or [])}` |",
            "",
        )

    def build(self) -> str:
        self.header()
        limits.section(self)
        body_start = len(self.lines)
        doors_open.section(self)
        door.section(self)
        saturation.section(self)
        time_to_qr.section(self)
        overload.section(self, "overload")
        overload.section(self, "overload-carry")
        verify_phone.section(self)
        console.section(self)
        organizers.section(self)
        sync_cost.section(self)
        failover_loss.section(self)
        body = self.lines[body_start:]
        self.lines = self.lines[:body_start]
        self.w("## Targets", "")
        self.w(
            *table(["target", "result", "measured"], [[t, pf(ok), d] for t, ok, d in self.targets]),
            "",
        )
        self.lines += body
        self.w(
            "---",
            "Raw per-request data (k6 CSV), server and k6 logs, queue and probe "
            "timelines: `raw/` beside this file (not committed). Rebuild this report: "
            f"`.venv/bin/python -m bench.report {self.out.name}`.",
            "",
        )
        return "\n".join(self.lines)


def write_report(out: Path) -> Path:
    text = Report(out).build()
    path = out / "report.md"
    path.write_text(text, encoding="utf-8")
    return path


def write_latest(out: Path, latest: Path) -> Path:
    """bench/results/latest.md: the report with its links pointing into its folder."""
    text = (out / "report.md").read_text(encoding="utf-8")
    rel = out.relative_to(latest.parent) if out.is_relative_to(latest.parent) else out
    text = text.replace("](", f"]({rel}/").replace(f"]({rel}/http", "](http")
    latest.write_text(f"<!-- copy of {rel}/report.md -->\n" + text, encoding="utf-8")
    return latest


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m bench.report <results folder>", file=sys.stderr)
        return 2
    out = Path(argv[0])
    if not out.is_dir():
        out = Path(__file__).resolve().parent / "results" / argv[0]
    print(write_report(out))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
