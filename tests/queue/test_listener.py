"""The process's LISTEN connection alone (queue/listener.JobWaiter), without a database: who a
notification wakes, and the memory of recently finished jobs."""

from __future__ import annotations

import asyncio

from guestlist.queue.listener import CHANNEL_DONE, CHANNEL_NEW, RECENT_DONE, JobWaiter


def test_one_wake_per_notification_asleep_workers_first() -> None:
    async def run() -> None:
        waiter = JobWaiter("postgresql:///unused")
        claiming = waiter.new_job()  # a worker inside a claim
        sleepers = [waiter.new_job(), waiter.new_job()]
        for fut in sleepers:
            waiter.asleep(fut)
        waiter._dispatch(CHANNEL_NEW, "")
        assert [f.done() for f in (claiming, *sleepers)] == [False, True, False]
        waiter.took(sleepers[0])
        waiter._dispatch(CHANNEL_NEW, "")
        assert sleepers[1].done() and not claiming.done()
        # a woken worker that will not claim (it stops) hands its wake-up on
        waiter.forget(sleepers[1])
        assert claiming.done()

    asyncio.run(run())


def test_job_waiter_remembers_recently_finished_jobs() -> None:
    """A subscription made after the job's NOTIFY (the held submit learns the job id from the
    enqueue) resolves at once; the memory keeps the last RECENT_DONE ids only."""

    async def run() -> None:
        waiter = JobWaiter("postgresql:///unused")
        waiter._dispatch(CHANNEL_DONE, "job-a")
        with waiter.job_done("job-a") as done:
            assert done.done()
        with waiter.job_done("job-b") as pending:
            assert not pending.done()
            waiter._dispatch(CHANNEL_DONE, "job-b")
            assert pending.done()
        for i in range(RECENT_DONE):
            waiter._dispatch(CHANNEL_DONE, f"later-{i}")
        with waiter.job_done("job-a") as forgotten, waiter.job_done("later-0") as kept:
            assert not forgotten.done() and kept.done()

    asyncio.run(run())
