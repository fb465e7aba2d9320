"""Run every benchmark one after another (they share the machine, so never in parallel).

Usage: python -m bench.run_all [--only NAME ...]   (results also go to bench/results/<timestamp>.log)
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

RUNS: list[tuple[str, list[str]]] = [
    ("advertiser-sqlite", ["bench.advertiser_bench", "--store", "sqlite"]),
    ("advertiser-postgres", ["bench.advertiser_bench", "--store", "postgres"]),
    ("upload", ["bench.upload_bench"]),
    ("events-sqlite", ["bench.events_bench", "--store", "sqlite"]),
    ("events-postgres", ["bench.events_bench", "--store", "postgres"]),
    ("serving", ["bench.serving_bench"]),
    ("insights-sqlite", ["bench.insights_bench", "--store", "sqlite"]),
    ("insights-postgres", ["bench.insights_bench", "--store", "postgres"]),
    ("publishing-media", ["bench.publishing_media_bench"]),
]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--only", nargs="*", help="names to run: " + ", ".join(n for n, _ in RUNS))
    args = parser.parse_args()
    out_dir = Path("bench/results")
    out_dir.mkdir(parents=True, exist_ok=True)
    log_path = out_dir / time.strftime("%Y%m%d-%H%M%S.log")
    failed = []
    with log_path.open("w") as log:
        for name, cmd in RUNS:
            if args.only and name not in args.only:
                continue
            header = f"## {name}: python -m {' '.join(cmd)}"
            print(header, flush=True)
            log.write(header + "\n")
            proc = subprocess.run([sys.executable, "-m", *cmd], capture_output=True, text=True)
            for line in proc.stdout.splitlines():
                print(line, flush=True)
                log.write(line + "\n")
            if proc.returncode != 0:
                failed.append(name)
                print(proc.stderr[-2000:], file=sys.stderr)
            log.flush()
    print(f"results: {log_path}")
    if failed:
        raise SystemExit(f"failed: {', '.join(failed)}")


if __name__ == "__main__":
    main()
