"""failover-loss (--cluster only, and last: the cluster keeps one node afterwards): what a
failover loses when the standby is behind, counted the way a guest would notice it.

Registrations run through HAProxy from 8 threads per CPU, each answer kept. `at` seconds in
(TIMES, by mode), the standby's WAL receiver is paused for LAG seconds (scripts/cluster.py
failover with CLUSTER_WAL_LAG: a slow or broken link), then the primary crashes and the standby
is promoted; registrations go on for `after` seconds. Then every QR code handed out and every
job id answered is looked up on the new primary.

With asynchronous replication (the cluster's default) a commit is answered before the standby
has it: what the primary committed while the standby was behind is gone after the promotion,
QR codes already shown to guests included. With synchronous replication (CLUSTER_SYNC=1:
synchronous_commit = remote_apply) a commit is answered only once the standby has applied it:
the commits made while the receiver is paused wait, their clients get an error when the
primary dies (the page sends the form again), and nothing handed out is lost."""

from __future__ import annotations

import os
import threading
import time
from collections import Counter
from typing import Any

import httpx
import psycopg

from bench.harness import BenchError, log
from bench.harness.bench import PASSWORD, Bench
from bench.harness.database import bq
from bench.harness.document import Document, fmt, table

LAG = 2.0
# (seconds before the failover, seconds after it) by mode: smoke proves the scenario runs
TIMES = {"smoke": (4.0, 6.0)}
DEFAULT_TIMES = (10.0, 15.0)
SYNC_TARGET = "failover-loss with synchronous replication: 0 QR codes handed out lost"


def run(bench: Bench) -> None:
    with bench.scenario("failover-loss") as meta:
        cluster = bench.cluster
        if cluster is None:
            raise BenchError("failover-loss runs through the cluster: bench/run.sh --cluster …")
        if cluster.state.get("primary") != "n1":
            raise BenchError("failover-loss needs the standby: run it once, last in its run")
        _, _, demo_ids = bench.fresh_db("failover-loss")
        ids = bench.page_ids(cluster, demo_ids)  # type: ignore[arg-type]
        clients = 8 * (os.cpu_count() or 1)
        at, after = TIMES.get(bench.mode.name, DEFAULT_TIMES)
        answers: list[dict[str, Any]] = []
        stop = threading.Event()
        t0 = time.time()

        def client(i: int) -> None:
            n = 0
            with httpx.Client(base_url=cluster.base, timeout=40) as c:
                while not stop.is_set():
                    n += 1
                    answers.append(_register(c, i, n, ids, t0))

        threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(clients)]
        for t in threads:
            t.start()
        time.sleep(at)
        cluster.env["CLUSTER_WAL_LAG"] = str(LAG)
        try:
            cluster.event("failover", t0)
        finally:
            cluster.env.pop("CLUSTER_WAL_LAG", None)
        time.sleep(after)
        stop.set()
        for t in threads:
            t.join(60)
        event = cluster.events[-1]
        if not event.get("ok"):
            raise BenchError(f"the failover failed: {event.get('error')}")
        meta.update(
            sync=bool(cluster.state.get("sync")),
            lag_s=LAG,
            at_s=at,
            after_s=after,
            clients=clients,
            event=event,
            **_count(cluster.url("guestlist"), answers, event),
        )
        meta["limits"] = bench.limits
        log(f"failover-loss: {meta['lost_qr']} of {meta['handed_out']} QR codes handed out lost")


def _register(c: httpx.Client, i: int, n: int, ids: dict[str, str], t0: float) -> dict[str, Any]:
    """One registration as the page sends it (held until its job ends); what came back."""
    body = {
        "phone": f"+35196{i:02d}{n:05d}",
        "firstName": "Falha",
        "lastName": f"Primario{i}x{n}",
        "email": f"f{i}x{n}@bench.test",
        "password": PASSWORD,
        "eventId": ids["EVENT_ID"],
        "promoterId": ids["PROMOTER_ID"],
        "teamId": ids["TEAM_ID"],
    }
    try:
        r = c.post("/api/guest/register-v2", params={"wait": 25}, json=body)
        data = r.json() if r.headers.get("content-type", "").startswith("application/") else {}
    except (httpx.HTTPError, ValueError) as err:
        time.sleep(0.5)
        return {"at": time.time() - t0, "outcome": type(err).__name__}
    answer: dict[str, Any] = {"at": time.time() - t0, "job": data.get("jobId")}
    result = data.get("result") or {}
    if r.status_code == 200 and data.get("status") == "completed" and result.get("qr_code"):
        answer.update(outcome="qr", qr=result["qr_code"])
    elif r.status_code == 200 and data.get("jobId"):
        # accepted, not finished within the held answer: the page would poll its status
        answer["outcome"] = f"accepted, {data.get('status') or 'status not read'}"
    else:
        answer["outcome"] = f"{r.status_code} {data.get('code')}"
        time.sleep(float(r.headers.get("Retry-After") or 0.5))
    return answer


def _count(url: str, answers: list[dict[str, Any]], event: dict[str, Any]) -> dict[str, Any]:
    """The answers against the new primary (`url`): what it kept of them (tally)."""
    codes = [a["qr"] for a in answers if a.get("qr")]
    job_ids = [a["job"] for a in answers if a.get("job")]
    with psycopg.connect(url, autocommit=True) as c:
        kept_qr = {r[0] for r in c.execute(bq("guests_with_qr"), {"codes": codes})}
        kept_jobs = {r[0] for r in c.execute(bq("jobs_with_id"), {"ids": job_ids})}
    return tally(answers, kept_qr, kept_jobs, event)


def tally(
    answers: list[dict[str, Any]], kept_qr: set[str], kept_jobs: set[str], event: dict[str, Any]
) -> dict[str, Any]:
    """QR codes handed out and job ids answered that the new primary does not have (not in
    `kept_qr` / `kept_jobs`), by when the client got them: before the standby fell behind,
    while it was behind or the primary was gone (the event's seconds), after the promotion."""
    qrs = [a for a in answers if a.get("qr")]
    jobs = [a for a in answers if a.get("job")]
    lost_jobs = [a for a in jobs if a["job"] not in kept_jobs]

    def window(a: dict[str, Any]) -> str:
        if a["at"] < event["start_s"]:
            return "before"
        return "during" if a["at"] <= event["end_s"] else "after"

    handed = Counter(window(a) for a in qrs)
    lost = Counter(window(a) for a in qrs if a["qr"] not in kept_qr)
    served = sorted(a["at"] for a in qrs if a["at"] > event["end_s"])
    return {
        "answers": len(answers),
        "outcomes": dict(Counter(a["outcome"] for a in answers if a["outcome"] != "qr")),
        "handed_out": len(qrs),
        "handed_out_by_window": dict(handed),
        "lost_qr": sum(lost.values()),
        "lost_qr_by_window": dict(lost),
        "jobs_answered": len(jobs),
        "lost_jobs": len(lost_jobs),
        # accepted without a QR code yet: the page polls, meets job_not_found, sends it again
        "lost_jobs_unfinished": sum(1 for a in lost_jobs if not a.get("qr")),
        # from the pause to the first QR code after the promotion
        "first_qr_after_s": round(served[0] - event["start_s"], 1) if served else None,
    }


# ─── its section of the report ────────────────────────────────────────────


def section(doc: Document) -> None:
    meta = doc.meta.get("failover-loss")
    if not meta:
        return  # a cluster-only measurement: no section when it did not run
    doc.w("## Failover with the standby behind: what is lost", "")
    doc.use_limits(meta)
    if doc.failed_to_run("failover-loss"):
        return
    sync = bool(meta.get("sync"))
    mode = "synchronous (remote_apply)" if sync else "asynchronous"
    event = meta.get("event") or {}
    doc.w(
        f"{meta.get('clients')} clients register through HAProxy without pause, each held "
        f"until its job ends. {fmt(meta.get('at_s'))} s in the standby's WAL receiver is "
        f"paused for {fmt(meta.get('lag_s'))} s, then the primary crashes and the standby is "
        f"promoted ({mode} replication; from the pause to serving again "
        f"{fmt((event.get('end_s') or 0) - (event.get('start_s') or 0))} s); registrations go "
        f"on for {fmt(meta.get('after_s'))} s. Every QR code handed out and every job id "
        "answered is then looked up on the new primary.",
        "",
    )
    handed = meta.get("handed_out_by_window") or {}
    lost = meta.get("lost_qr_by_window") or {}
    rows = [
        [f"QR codes handed out {w}", handed.get(w, 0), lost.get(w, 0)]
        for w in ("before", "during", "after")
    ]
    rows.append(["all", meta.get("handed_out"), meta.get("lost_qr")])
    doc.w(*table(["", "handed out", "missing on the new primary"], rows), "")
    others = ", ".join(f"{k}: {v}" for k, v in sorted((meta.get("outcomes") or {}).items()))
    doc.w(
        f"Job ids answered: {meta.get('jobs_answered')}, missing on the new primary: "
        f"{meta.get('lost_jobs')} ({meta.get('lost_jobs_unfinished')} of them accepted but not "
        "finished when answered: the page polls them, meets `job_not_found` and sends the form "
        f"again). Answers without a QR code: {others or 'none'}. First QR code after the "
        f"promotion {fmt(meta.get('first_qr_after_s'))} s after the pause began.",
        "",
    )
    if sync:
        lost_n = meta.get("lost_qr")
        doc.target(SYNC_TARGET, lost_n == 0, f"{lost_n} of {meta.get('handed_out')}")
