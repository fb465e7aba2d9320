"""Publishing figures (issue 10), against the real server process.

1. Create a TEXT container + publish it, one sequential client: p50 / p99 of the pair.
2. GET /v1.0/me/threads?limit=25 on a profile with 10,000 posts (first page and a deep keyset page).
3. An IMAGE container from a local origin (1 MB JPEG) to FINISHED with the in-server worker.
4. Containers processed per second: ``--burst`` IMAGE containers created at once, time until the last is
   FINISHED, with the in-server worker and (``--workers 2``) with 2 ``threadline worker`` processes
   beside a server whose own worker is off.
5. A 10 s 720p H.264/AAC video (``--video``) to FINISHED: seconds, and the peak RSS growth of the
   process that ran the job (the server, or the worker process).

Usage: python -m bench.publishing_bench [--store sqlite|postgres] [--pairs 300] [--reads 500]
       [--burst 60] [--workers 0|2] [--video] [--only-media]
"""

from __future__ import annotations

import argparse
import http.server
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
from tests.factories import seed_org

from bench.common import fresh_store, machine, percentiles, report, start_server
from bench.upload_bench import noise_image
from threadline.config import Settings
from threadline.context import build_context
from threadline.kit.clock import Clock
from threadline.kit.ids import new_graph_id
from threadline.publishing import accounts
from threadline.publishing.fields import shortcode
from threadline.publishing.schemas import ProfileCreate, TokenCreate
from threadline.store.models import ThreadsContainer, ThreadsPost

SCOPES = ["threads_basic", "threads_content_publish", "threads_delete"]


def seed(url: str, data_dir: Path, posts: int) -> tuple[str, str]:
    """Two profiles: one empty (publish bench), one with ``posts`` posts (list bench). Their tokens."""
    ctx = build_context(Settings(data_dir=data_dir, database_url=url))
    org = seed_org(ctx, "Publishing Bench", "", card=None)
    tokens = []
    for name in ("writer", "reader"):
        profile = accounts.create_profile(ctx, org.org.id, ProfileCreate(username=name))
        tok = accounts.create_token(ctx, profile.id, TokenCreate.model_validate({"scopes": SCOPES}))
        tokens.append((profile.id, tok.access_token))
    reader = int(tokens[1][0])
    clock = Clock()
    start = clock.now_s() - posts * 10
    with ctx.db.write() as s:  # bulk rows for the read figure: the publish path is measured by figure 1
        for i in range(posts):
            cid, mid = new_graph_id(clock.now()), new_graph_id(clock.now())
            s.add(
                ThreadsContainer(
                    id=cid,
                    profile_id=reader,
                    media_type="TEXT",
                    status="PUBLISHED",
                    options={"text": f"post {i}"},
                    children=[],
                    media_info={},
                    created_at=start + i * 10,
                    published_media_id=mid,
                )
            )
            s.add(
                ThreadsPost(
                    id=mid,
                    profile_id=reader,
                    container_id=cid,
                    media_type="TEXT_POST",
                    text=f"post {i} #bench",
                    shortcode=shortcode(mid),
                    attrs={"topic_tag": "bench"},
                    created_at=start + i * 10,
                )
            )
    ctx.db.dispose()
    return tokens[0][1], tokens[1][1]


def timed(fn: object, n: int) -> list[float]:
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()  # type: ignore[operator]
        out.append((time.perf_counter() - t0) * 1000)
    return out


class _Origin(http.server.BaseHTTPRequestHandler):
    body = b""
    video = b""

    def do_GET(self) -> None:
        body, kind = (self.video, "video/mp4") if self.path.endswith(".mp4") else (self.body, "image/jpeg")
        self.send_response(200)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


def to_finished(api: httpx.Client, token: str, media: dict[str, str]) -> float:
    """Create one IMAGE/VIDEO container and poll it to FINISHED; milliseconds."""
    kind = "VIDEO" if "video_url" in media else "IMAGE"
    t0 = time.perf_counter()
    cid = api.post("/me/threads", data={"media_type": kind, **media, "access_token": token}).json()["id"]
    while True:
        got = api.get(f"/{cid}", params={"fields": "status,error_details", "access_token": token}).json()
        if got["status"] != "IN_PROGRESS":
            assert got["status"] == "FINISHED", got
            return (time.perf_counter() - t0) * 1000
        time.sleep(0.005)


def burst(api: httpx.Client, token: str, image_url: str, n: int, who: str, store: str) -> None:
    """``n`` IMAGE containers created back to back, then polled until every one is FINISHED."""
    t0 = time.perf_counter()
    ids = [
        api.post(
            "/me/threads", data={"media_type": "IMAGE", "image_url": image_url, "access_token": token}
        ).json()["id"]
        for _ in range(n)
    ]
    created = time.perf_counter() - t0
    pending = set(ids)
    while pending:
        for cid in list(pending):
            got = api.get(f"/{cid}", params={"fields": "status", "access_token": token}).json()
            if got["status"] != "IN_PROGRESS":
                assert got["status"] == "FINISHED", got
                pending.discard(cid)
        time.sleep(0.02)
    seconds = time.perf_counter() - t0
    report(
        "image_containers_per_second",
        store=store,
        processed_by=who,
        containers=n,
        create_seconds=round(created, 2),
        seconds=round(seconds, 2),
        per_second=round(n / seconds, 1),
    )


def _rss_mb(pid: int) -> tuple[float, float]:
    """(current RSS, peak RSS since the last reset) of a process, MB."""
    values = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            values[key] = int(rest.split()[0]) / 1024
    return values["VmRSS"], values["VmHWM"]


def _reset_peak(pid: int) -> None:
    # Linux: writing 5 to clear_refs resets VmHWM to the current RSS, so the peak is this job's.
    Path(f"/proc/{pid}/clear_refs").write_text("5")


def video_figure(api: httpx.Client, token: str, video_url: str, pids: list[int], who: str, runs: int) -> None:
    """The job runs in one of ``pids``: the growth is the largest of theirs."""
    seconds, growth = [], []
    for _ in range(runs):
        before = {pid: _rss_mb(pid)[0] for pid in pids}
        for pid in pids:
            _reset_peak(pid)
        seconds.append(to_finished(api, token, {"video_url": video_url}) / 1000)
        growth.append(max(_rss_mb(pid)[1] - before[pid] for pid in pids))
    seconds.sort()
    report(
        "video_10s_720p_to_finished",
        processed_by=who,
        runs=runs,
        median_seconds=round(seconds[len(seconds) // 2], 2),
        max_seconds=round(seconds[-1], 2),
        max_peak_rss_growth_mb=round(max(growth), 1),
        target_growth_mb=200,
    )


def _worker(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(
            [sys.executable, "-c", "from threadline.cli import main; main()", "worker", "--quiet"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=out,
        )


def _wait_ready(log: Path, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while " ready: " not in log.read_text():
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"worker did not start: {log.read_text()[-2000:]}")
        time.sleep(0.1)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--store", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--pairs", type=int, default=300)
    parser.add_argument("--reads", type=int, default=500)
    parser.add_argument("--posts", type=int, default=10_000)
    parser.add_argument("--images", type=int, default=20)
    parser.add_argument("--burst", type=int, default=60)
    parser.add_argument("--workers", type=int, default=0, help="also measure with N `threadline worker`s")
    parser.add_argument("--video", action="store_true", help="also the 10 s 720p video to FINISHED")
    parser.add_argument("--video-runs", type=int, default=3)
    parser.add_argument("--only-media", action="store_true", help="skip the TEXT and list figures")
    args = parser.parse_args()
    print(f"# machine: {machine()}")
    _Origin.body = noise_image("JPEG", 1_000_000)
    media_dir = Path(tempfile.mkdtemp(prefix="threadline-bench-media-"))
    if args.video:
        from tests.publishing.media.videos import make_video

        # Random pixels held to 6 Mbps: the size of a phone's 720p export.
        clip = make_video(
            media_dir / "clip.mp4", width=1280, height=720, fps=30, frames=300, noise=True, bit_rate=6_000_000
        )
        _Origin.video = clip.read_bytes()
        report("generated video (not a figure)", size_mb=round(len(_Origin.video) / 1e6, 2))
    origin = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Origin)
    threading.Thread(target=origin.serve_forever, daemon=True).start()
    origin_base = f"http://127.0.0.1:{origin.server_address[1]}"
    image_url, video_url = f"{origin_base}/photo.jpg", f"{origin_base}/clip.mp4"
    env = {
        "THREADLINE_THREADS_CALLS_PER_HOUR": "1000000000",
        "THREADLINE_THREADS_POST_QUOTA": "1000000000",
        "THREADLINE_ALLOW_PRIVATE_FETCH_HOSTS": "127.0.0.1",
        "THREADLINE_JOBS_POLL_SECONDS": "0.01",
    }
    with fresh_store(args.store) as url:
        data_dir = Path(tempfile.mkdtemp(prefix="threadline-bench-publishing-"))
        writer, reader = seed(url, data_dir, 0 if args.only_media else args.posts)
        server = start_server(url, data_dir, **env)
        try:
            with httpx.Client(base_url=server.base_url + "/v1.0", timeout=60) as api:
                if not args.only_media:
                    text_and_list_figures(api, server.base_url, writer, reader, args)
                samples = [to_finished(api, writer, {"image_url": image_url}) for _ in range(args.images)]
                stats = percentiles(samples)
                report(
                    "image_1mb_to_finished",
                    store=args.store,
                    images=args.images,
                    p50_ms=round(stats["p50_ms"], 1),
                    p99_ms=round(stats["p99_ms"], 1),
                    target_p50_ms=500,
                )
                burst(api, writer, image_url, args.burst, "in-server worker", args.store)
                if args.video:
                    assert server.proc is not None
                    video_figure(
                        api, writer, video_url, [server.proc.pid], "in-server worker", args.video_runs
                    )
        finally:
            server.stop()
        if args.workers:
            server = start_server(url, data_dir, **env, THREADLINE_JOBS_WORKER_ENABLED="false")
            worker_env = {
                **os.environ,
                **server.env,
                "THREADLINE_JOBS_POLL_SECONDS": "0.01",
            }
            procs = []
            try:
                for i in range(args.workers):
                    log = data_dir / f"worker-{i}.log"
                    proc = _worker(worker_env, log)
                    procs.append(proc)
                    _wait_ready(log, proc)
                with httpx.Client(base_url=server.base_url + "/v1.0", timeout=60) as api:
                    to_finished(api, writer, {"image_url": image_url})  # warm both paths
                    who = f"{args.workers} `threadline worker` processes"
                    burst(api, writer, image_url, args.burst, who, args.store)
                    if args.video:
                        pids = [proc.pid for proc in procs]
                        video_figure(api, writer, video_url, pids, who, args.video_runs)
            finally:
                for proc in procs:
                    proc.terminate()
                    proc.wait(30)
                server.stop()
    origin.shutdown()


def text_and_list_figures(
    api: httpx.Client, base_url: str, writer: str, reader: str, args: argparse.Namespace
) -> None:
    def pair() -> None:
        r = api.post(
            "/me/threads",
            data={"media_type": "TEXT", "text": "Hello #bench", "access_token": writer},
        )
        p = api.post("/me/threads_publish", data={"creation_id": r.json()["id"], "access_token": writer})
        assert p.status_code == 200, p.text

    def bare_pair() -> None:
        api.post(base_url + "/bench/bare-json")
        api.post(base_url + "/bench/bare-json")

    timed(bare_pair, 20)
    stats = percentiles(timed(bare_pair, args.pairs))
    report("baseline_two_bare_posts", p50_ms=round(stats["p50_ms"], 2), p99_ms=round(stats["p99_ms"], 2))
    timed(pair, 20)  # warm up
    stats = percentiles(timed(pair, args.pairs))
    report(
        "text_create_publish",
        store=args.store,
        pairs=args.pairs,
        p50_ms=round(stats["p50_ms"], 2),
        p99_ms=round(stats["p99_ms"], 2),
        target_p50_ms=10,
    )

    params = {"limit": "25", "access_token": reader, "fields": "id,text,timestamp,media_type,permalink"}
    first = api.get("/me/threads", params=params).json()
    assert len(first["data"]) == 25
    timed(lambda: api.get("/me/threads", params=params), 20)
    stats = percentiles(timed(lambda: api.get("/me/threads", params=params), args.reads))
    report(
        "list_first_page",
        store=args.store,
        posts=args.posts,
        p50_ms=round(stats["p50_ms"], 2),
        p99_ms=round(stats["p99_ms"], 2),
        target_p99_ms=15,
    )
    cursor = first["paging"]["cursors"]["after"]
    for _ in range(min(200, args.posts // 50)):  # to the middle of the list: keyset pages cost the same
        cursor = api.get("/me/threads", params={**params, "after": cursor}).json()["paging"]["cursors"][
            "after"
        ]
    deep = {**params, "after": cursor}
    stats = percentiles(timed(lambda: api.get("/me/threads", params=deep), args.reads))
    report(
        "list_page_5000_deep",
        store=args.store,
        p50_ms=round(stats["p50_ms"], 2),
        p99_ms=round(stats["p99_ms"], 2),
        target_p99_ms=15,
    )


if __name__ == "__main__":
    main()
