"""verify-phone: our phone check against the bare route and PostGraphile 4, on one database."""

from __future__ import annotations

import re
import statistics
from collections import defaultdict
from pathlib import Path
from typing import Any

from bench.harness import BenchError, log
from bench.harness.bench import Bench
from bench.harness.document import Document, fmt, pyplot, ratio, table
from bench.harness.results import (
    load,
    measured_rps,
    metric,
)
from bench.harness.servers import Server


def run(bench: Bench) -> None:
    """Our route, the bare route and PostGraphile, all three up at once on the same
    database, taking turns: round 1 (each target at each VU level), round 2, … The median
    of the rounds resists a machine whose other load drifts during the run."""
    with bench.scenario("verify-phone") as meta:
        dbname, url, _ = bench.fresh_db("verify_phone")
        meta["targets"] = {}
        meta["rounds"] = bench.mode.http_rounds
        meta["phones_each_kind"] = min(2000, bench.mode.users)
        servers: dict[str, Server] = {}
        for target in ("ours", "bare", "postgraphile"):
            try:
                if target == "ours":
                    servers[target] = bench.start_app(url, f"verify-{target}")
                elif target == "bare":
                    servers[target] = bench.start_bare(url, f"verify-{target}")
                else:
                    servers[target] = bench.start_postgraphile(dbname, f"verify-{target}")
                meta["targets"][target] = {"rps": {v: [] for v in bench.mode.http_levels}}
            except BenchError as err:
                meta["targets"][target] = {"error": str(err)}
                log(f"verify-phone: {target} not run: {err}")
        runs = []
        env = {"PHONES": str(meta["phones_each_kind"])}
        for rnd in range(1, bench.mode.http_rounds + 1):
            for vus in bench.mode.http_levels:
                for target, srv in servers.items():
                    r = bench.http_run(
                        f"verify-phone-{target}-{vus}-r{rnd}",
                        "verify-phone.js",
                        srv,
                        vus,
                        {**env, "TARGET": target},
                    )
                    runs.append(r)
                    rps = measured_rps(bench.out / r.summary, bench.mode.http_secs)
                    meta["targets"][target]["rps"][vus].append(rps)
                    log(f"verify-phone: round {rnd}, {target} {rps:.0f} req/s at {vus} VUs")
        for target, srv in servers.items():
            meta["targets"][target]["server_cpu_s"] = srv.cpu_used()
        bench.stop_servers()
        bench.record_runs(meta, runs)
        meta["limits"] = bench.limits
        bench.done_with(dbname)
        missing = [t for t, v in meta["targets"].items() if "error" in v]
        if missing:
            raise BenchError(
                "verify-phone: not run against "
                + ", ".join(f"{t} ({meta['targets'][t]['error']})" for t in missing)
            )


# ─── its section of the report ────────────────────────────────────────────


def plot_verify(out: Path, rows: list[dict[str, Any]], ceiling: dict[str, float]) -> str | None:
    if not rows:
        return None
    plt = pyplot()
    levels = sorted({r["vus"] for r in rows})
    targets = ["ours", "bare", "postgraphile"]
    fig, ax = plt.subplots(figsize=(8, 4.5))
    width = 0.2
    for j, target in enumerate(targets):
        vals = [
            next((r["rps"] for r in rows if r["target"] == target and r["vus"] == v), 0)
            for v in levels
        ]
        ax.bar([i + (j - 1) * width for i in range(len(levels))], vals, width, label=target)
    for i, v in enumerate(levels):
        c = ceiling.get(str(v)) or ceiling.get(v)  # type: ignore[call-overload]
        if c:
            ax.plot([i - 1.6 * width, i + 1.6 * width], [c, c], color="black", lw=0.8, ls="--")
    ax.set_xticks(range(len(levels)), [f"{v} VUs" for v in levels])
    ax.set_ylabel("requests/s (dashed: HTTP ceiling)")
    ax.set_title("verify-phone-v2: our route, bare Starlette, PostGraphile 4")
    ax.legend(fontsize=8)
    ax.grid(True, axis="y", alpha=0.3)
    fig.tight_layout()
    fig.savefig(out / "verify-phone.png", dpi=90)
    plt.close(fig)
    return "verify-phone.png"


def section(doc: Document) -> None:
    doc.w("## verify-phone-v2: our route vs a bare route vs PostGraphile 4", "")
    meta = doc.meta.get("verify-phone")
    doc.use_limits(meta)
    if not meta:
        doc.w("Not run.", "")
        for vus in ("50", "200"):
            doc.target(f"verify-phone-v2 ≥ 1.25 x PostGraphile's rps at {vus} VUs", None)
            doc.target(f"verify-phone-v2 ≥ 0.85 x the bare route's rps at {vus} VUs", None)
        return
    if meta.get("error"):
        doc.w(f"**Incomplete:** {meta['error']}", "")
    # runs grouped by (target, VUs), one per round
    groups: dict[tuple[str, int], list[dict[str, Any]]] = defaultdict(list)
    secs = warmup = None
    for run in meta.get("runs") or []:
        summary = load(doc.out / run["summary"])
        target, vus = run["env"]["TARGET"], int(run["env"]["VUS"])
        secs = float(run["env"]["DURATION"])
        warmup = run["env"].get("WARMUP")
        count = metric(summary, "http_reqs{scenario:measure}", "count", 0) or 0
        rnd = re.search(r"-r(\d+)$", run["name"])
        groups[(target, vus)].append(
            {"round": int(rnd.group(1)) if rnd else 1, "rps": count / secs, "s": summary}
        )
    d = "http_req_duration{scenario:measure}"
    rows, plot_rows = [], []
    med: dict[tuple[str, int], float] = {}
    order = {"ours": 0, "bare": 1, "postgraphile": 2}
    for (target, vus), runs in sorted(
        groups.items(), key=lambda kv: (kv[0][1], order.get(kv[0][0], 9))
    ):
        rps = statistics.median(r["rps"] for r in runs)
        med[(target, vus)] = rps
        plot_rows.append({"target": target, "vus": vus, "rps": rps})
        fails = sum((metric(r["s"], "checks{scenario:measure}", "fails", 0) or 0) for r in runs)
        checks = fails + sum(
            (metric(r["s"], "checks{scenario:measure}", "passes", 0) or 0) for r in runs
        )
        failed = sum(
            (metric(r["s"], "http_req_failed{scenario:measure}", "passes", 0) or 0) for r in runs
        )

        def med_stat(stat: str, runs: list[dict[str, Any]] = runs) -> float | None:
            vals = [v for r in runs if (v := metric(r["s"], d, stat)) is not None]
            return statistics.median(vals) if vals else None

        rows.append(
            [
                target,
                vus,
                rps,
                " / ".join(f"{r['rps']:,.0f}" for r in sorted(runs, key=lambda r: r["round"])),
                med_stat("med"),
                med_stat("p(95)"),
                med_stat("p(99)"),
                failed,
                f"{100 * (1 - fails / checks):.2f}%" if checks else "-",
                ratio(rps, doc.ceiling.get(str(vus))),
                ratio(rps, doc.lookup),
            ]
        )
    doc.w(
        *table(
            [
                "target",
                "VUs",
                "req/s (median)",
                "each round",
                "p50 ms",
                "p95 ms",
                "p99 ms",
                "failed requests",
                "right answers",
                "÷ HTTP ceiling",
                "÷ lookup limit",
            ],
            rows,
        ),
        "",
    )
    doc.w(
        f"{meta.get('rounds', 1)} round(s); in each, every target at every VU level: "
        f"{warmup} s warm-up, then {fmt(secs)} s measured; no think time; half the phones "
        f"exist ({meta.get('phones_each_kind')} of each kind, every answer checked). The three "
        "servers run at once on the same database and take turns, so a drift in the "
        "machine's other load hits them alike; latencies are medians over the rounds. "
        "PostGraphile: `postgraphile -c … --schema api --disable-graphiql --dynamic-json "
        "--default-role guestlist_web`, mutation `checkPhoneWithCache` (the function is "
        "VOLATILE). Ratios below: median over rounds of the same-round ratio.",
        "",
    )
    vplot = plot_verify(doc.out, plot_rows, doc.ceiling)
    if vplot:
        doc.w(f"![verify-phone]({vplot})", "")

    def round_ratio(a: str, b: str, vus: int) -> float | None:
        ra = {r["round"]: r["rps"] for r in groups.get((a, vus), [])}
        rb = {r["round"]: r["rps"] for r in groups.get((b, vus), [])}
        both = [ra[k] / rb[k] for k in ra if rb.get(k)]
        return statistics.median(both) if both else None

    for vus in sorted({v for (_, v) in groups}):
        for other, factor, label in (
            ("postgraphile", 1.25, "PostGraphile's"),
            ("bare", 0.85, "the bare route's"),
        ):
            r = round_ratio("ours", other, vus)
            doc.target(
                f"verify-phone-v2 ≥ {factor} x {label} rps at {vus} VUs",
                None if r is None else r >= factor,
                f"{fmt(med.get(('ours', vus)))} vs {fmt(med.get((other, vus)))} req/s; "
                f"ratio {fmt(r, 2)}",
            )
