"""Durable jobs: 1,000 trivial jobs through the app's own in-server worker (the one `threadline serve`
starts in each server process), on a fresh store.

    python -m bench.jobs_bench [--store sqlite|postgres] [--jobs 1000] [--batch 1] [--threads 1]

Figures (one JSON line each):
- burst: all jobs enqueued in one transaction; throughput = jobs / (last done - commit), the process's
  CPU time per job (steadier than jobs/s on a shared machine), and the enqueue→done percentiles
  (mostly queueing: job n waits for the n-1 before it);
- paced: one job per transaction (as a request handler would enqueue it) at half the burst rate;
  enqueue→done percentiles = commit of the enqueue to the commit that marks the job done.
The worker runs with the server's settings (THREADLINE_JOBS_*: 1 thread, claim batch 1, 1 s poll; an
enqueue committed in the same process wakes it at once, so the poll interval does not enter).
"""

from __future__ import annotations

import argparse
import tempfile
import threading
import time
from pathlib import Path

from fastapi.testclient import TestClient

from bench.common import fresh_store, machine, percentiles, report
from threadline.app import create_app
from threadline.config import Settings
from threadline.kit.jobs import JobWorker, Outcome, enqueue


class Tracker:
    def __init__(self) -> None:
        self.enqueued: dict[int, float] = {}
        self.done: dict[int, float] = {}
        self.lock = threading.Lock()
        self.all_done = threading.Event()
        self.expected = 0

    def reset(self, expected: int) -> None:
        with self.lock:
            self.enqueued.clear()
            self.done.clear()
            self.expected = expected
            self.all_done.clear()

    def on_outcome(self, outcome: Outcome) -> None:
        if outcome.job.kind != "bench.noop" or outcome.state != "done":
            return
        with self.lock:
            self.done[outcome.job.id] = time.perf_counter()
            if len(self.done) >= self.expected:
                self.all_done.set()

    def latencies_ms(self) -> list[float]:
        with self.lock:
            return [(self.done[i] - t) * 1000 for i, t in self.enqueued.items()]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--store", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--jobs", type=int, default=1000)
    parser.add_argument("--batch", type=int, default=1, help="THREADLINE_JOBS_CLAIM_BATCH")
    parser.add_argument("--threads", type=int, default=1, help="THREADLINE_JOBS_WORKER_THREADS")
    args = parser.parse_args()
    report("machine", value=machine())

    with fresh_store(args.store) as url, tempfile.TemporaryDirectory() as tmp:
        settings = Settings(
            data_dir=Path(tmp),
            database_url=url,
            admin_token="adm_bench",
            secret_key="bench-secret",
            log_requests=False,
            jobs_claim_batch=args.batch,
            jobs_worker_threads=args.threads,
        )
        app = create_app(settings)
        ctx = app.state.ctx
        ctx.jobs.register("bench.noop", lambda _job: None)
        worker: JobWorker = ctx.services["job_worker"]
        tracker = Tracker()
        worker.on_outcome = tracker.on_outcome
        with TestClient(app):  # the app's lifespan: the in-server worker starts as under `serve`
            time.sleep(0.5)  # let the start-up reconcile job finish before timing
            n = args.jobs

            # -- burst
            tracker.reset(n)
            cpu_before = time.process_time()
            with ctx.db.write() as s:
                ids = [enqueue(s, "bench.noop", {"i": i}, now=ctx.clock.now_s()) for i in range(n)]
            committed = time.perf_counter()
            with tracker.lock:
                tracker.enqueued.update(dict.fromkeys(ids, committed))
            if not tracker.all_done.wait(600):
                raise SystemExit(f"burst: only {len(tracker.done)} of {n} done")
            elapsed = max(tracker.done.values()) - committed
            cpu_ms = (time.process_time() - cpu_before) * 1000 / n
            rate = n / elapsed
            report(
                "jobs burst",
                store=args.store,
                batch=args.batch,
                threads=args.threads,
                jobs=n,
                seconds=round(elapsed, 3),
                jobs_per_s=round(rate, 1),
                cpu_ms_per_job=round(cpu_ms, 3),
                **{k: round(v, 2) for k, v in percentiles(tracker.latencies_ms()).items()},
            )

            # -- paced, one job per transaction
            tracker.reset(n)
            interval = 2 / rate
            start = time.perf_counter()
            for i in range(n):
                due = start + i * interval
                pause = due - time.perf_counter()
                if pause > 0:
                    time.sleep(pause)
                with ctx.db.write() as s:
                    job_id = enqueue(s, "bench.noop", {"i": i}, now=ctx.clock.now_s())
                t = time.perf_counter()
                with tracker.lock:
                    tracker.enqueued[job_id] = t
            if not tracker.all_done.wait(600):
                raise SystemExit(f"paced: only {len(tracker.done)} of {n} done")
            report(
                "jobs paced enqueue->done",
                store=args.store,
                batch=args.batch,
                threads=args.threads,
                jobs=n,
                offered_per_s=round(1 / interval, 1),
                **{k: round(v, 2) for k, v in percentiles(tracker.latencies_ms()).items()},
            )
        ctx.db.dispose()


if __name__ == "__main__":
    main()
