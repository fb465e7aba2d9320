"""Publishing media figures (issue 10): a 10 s 720p H.264/AAC video through the media pipeline.

1. ``prepare_video`` on a faststart MP4: seconds and peak RSS growth of the process (target <= +200 MB).
2. The same video with moov at the end (prepared *and* remuxed to faststart).
3. ``fetch_media`` from a local HTTP origin (streamed to a file) then ``prepare_video``.

Each measurement runs in a fresh child process, so its peak RSS (``ru_maxrss``) belongs to that one step;
the growth is that peak minus the RSS after imports (PyAV/FFmpeg and Pillow already loaded).

Usage: python -m bench.publishing_media_bench [--seconds 10] [--runs 3]
"""

from __future__ import annotations

import argparse
import http.server
import json
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from tests.publishing.media.videos import make_video

from bench.common import machine, report


def _rss_mb() -> float:
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return pages * resource.getpagesize() / 1e6


def child(path: Path, url: str | None) -> None:
    from threadline.publishing.media import MediaFetcher, fetch_media, prepare_video

    before = _rss_mb()
    start = time.perf_counter()
    if url is not None:
        fetcher = MediaFetcher(allow_private_hosts=frozenset({"127.0.0.1"}))
        fetched = fetch_media(fetcher, url, "video", path)
        fetched_at = time.perf_counter() - start
        video = prepare_video(fetched.path)
    else:
        fetched_at = 0.0
        video = prepare_video(path)
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e3  # KiB on Linux
    print(
        json.dumps(
            {
                "seconds": round(seconds, 3),
                "fetch_seconds": round(fetched_at, 3),
                "rss_before_mb": round(before, 1),
                "peak_rss_mb": round(peak, 1),
                "growth_mb": round(peak - before, 1),
                "faststart_input": video.faststart,
                "size_mb": round(video.size / 1e6, 2),
                "thumbnail_bytes": len(video.thumbnail),
            }
        )
    )


def measure(path: Path, url: str | None = None) -> dict[str, object]:
    cmd = [sys.executable, "-m", "bench.publishing_media_bench", "--child", str(path)]
    if url is not None:
        cmd += ["--url", url]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    result: dict[str, object] = json.loads(out.strip().splitlines()[-1])
    return result


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--child", type=Path)
    parser.add_argument("--url")
    args = parser.parse_args()
    if args.child is not None:
        child(args.child, args.url)
        return

    print(f"# {machine()}", flush=True)
    with tempfile.TemporaryDirectory(prefix="threadline-media-bench-") as tmp:
        root = Path(tmp)
        frames = 30 * args.seconds
        t0 = time.perf_counter()
        # Random pixels held to 6 Mbps: the size of a phone's 720p export (compressible content would
        # make a 0.1 MB file and flatter every figure).
        spec = {
            "width": 1280,
            "height": 720,
            "fps": 30,
            "frames": frames,
            "noise": True,
            "bit_rate": 6_000_000,
        }
        fast = make_video(root / "fast.mp4", **spec)  # type: ignore[arg-type]
        late = make_video(root / "late.mp4", faststart=False, **spec)  # type: ignore[arg-type]
        report(
            "generate 2 test videos (not a figure)",
            seconds=round(time.perf_counter() - t0, 1),
            size_mb=round(fast.stat().st_size / 1e6, 2),
        )

        handler = lambda *a: _Quiet(*a, directory=str(root))  # noqa: E731
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        port = server.server_address[1]
        try:
            cases = [
                ("prepare_video, 10 s 720p H.264/AAC, faststart", fast, None),
                ("prepare_video + faststart remux, moov at the end", late, None),
                (
                    "fetch_media (local origin, streamed) + prepare_video",
                    None,
                    f"http://127.0.0.1:{port}/fast.mp4",
                ),
            ]
            for figure, path, url in cases:
                runs = []
                for n in range(args.runs):
                    if url is not None:
                        dest = root / f"dl-{n}"
                        dest.mkdir()
                        runs.append(measure(dest, url))
                    else:
                        assert path is not None
                        runs.append(measure(path))
                seconds = sorted(float(str(r["seconds"])) for r in runs)
                growth = max(float(str(r["growth_mb"])) for r in runs)
                report(
                    figure,
                    runs=len(runs),
                    median_seconds=seconds[len(seconds) // 2],
                    max_seconds=seconds[-1],
                    max_peak_rss_growth_mb=growth,
                    target_growth_mb=200,
                    detail=runs[-1],
                )
        finally:
            server.shutdown()


if __name__ == "__main__":
    main()
