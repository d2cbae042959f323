"""Run every `benchmarks/bench_*.py` in turn, each as its own subprocess, and summarize.

    python benchmarks/run_all.py            # full sizes
    python benchmarks/run_all.py --quick    # smoke sizes (passes --quick to each)
    python benchmarks/run_all.py --only server --only api

Each benchmark's output is streamed as it runs. The exit code is non-zero only when a benchmark
crashed (non-zero exit); a missed performance target is printed by the benchmark, not judged
here.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


def discover(only: list[str]) -> list[Path]:
    scripts = sorted(HERE.glob("bench_*.py"))
    if only:
        wanted = {o.removeprefix("bench_").removesuffix(".py") for o in only}
        scripts = [s for s in scripts if s.stem.removeprefix("bench_") in wanted]
        missing = wanted - {s.stem.removeprefix("bench_") for s in scripts}
        if missing:
            raise SystemExit(f"no benchmark called {', '.join(sorted(missing))} in {HERE}")
    return scripts


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="pass --quick: small smoke-size runs")
    p.add_argument("--only", action="append", default=[], metavar="NAME",
                   help="run only bench_NAME.py (repeatable)")
    p.add_argument("--timeout", type=float, default=3600, metavar="SECONDS",
                   help="stop a benchmark that runs longer than this (default 3600)")
    args = p.parse_args(argv)

    scripts = discover(args.only)
    if not scripts:
        print(f"no bench_*.py in {HERE}")
        return 0
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]), "PYTHONUNBUFFERED": "1"}
    results: list[tuple[str, str, float]] = []
    t_all = time.perf_counter()
    for script in scripts:
        cmd = [sys.executable, str(script), *(["--quick"] if args.quick else [])]
        print(f"\n{'#' * 100}\n# {script.name}{' --quick' if args.quick else ''}\n{'#' * 100}",
              flush=True)
        t0 = time.perf_counter()
        # Its own session, so a timeout can stop it and whatever servers it started.
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, start_new_session=True)
        try:
            code = proc.wait(timeout=args.timeout)
            status = "ok" if code == 0 else f"FAILED (exit {code})"
        except subprocess.TimeoutExpired:
            import signal

            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
            status = f"TIMED OUT after {args.timeout:.0f} s"
        except KeyboardInterrupt:
            import signal

            os.killpg(proc.pid, signal.SIGINT)
            proc.wait(timeout=60)
            raise
        results.append((script.name, status, time.perf_counter() - t0))

    print(f"\n{'#' * 100}\n# summary{' (--quick)' if args.quick else ''}")
    width = max(len(name) for name, _, _ in results)
    for name, status, secs in results:
        print(f"  {name.ljust(width)}  {secs:7.1f} s  {status}")
    print(f"  {'total'.ljust(width)}  {time.perf_counter() - t_all:7.1f} s", flush=True)
    return 0 if all(status == "ok" for _, status, _ in results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
