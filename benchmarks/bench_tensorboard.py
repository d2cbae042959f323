"""`sync_tensorboard` throughput (issue #18): 1,000,000 scalar events from 10 tags -> history.

Writes `--events` scalar events (10 tags x events/10 steps) with tensorboardX into one log
directory, then times, each from a cold start on the same files:
  * reading them with tbparse alone (`SummaryReader(dir).scalars`, a long DataFrame): the
    floor any TensorBoard importer in Python stands on;
  * `liberry.Api.sync_tensorboard` end to end into a temporary `liberry server` (SQLite):
    read, merge by step, send as history through file_stream, stored; its read phase
    (`read_log_dir`) is timed on its own too;
  * a re-sync of the unchanged files (idempotent: reads everything, adds no rows).

    python benchmarks/bench_tensorboard.py                # 1,000,000 events
    python benchmarks/bench_tensorboard.py --events 100000

Nothing is asserted; the history is checked to hold every step.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

TAGS = [f"train/metric_{i}" for i in range(10)]


def write_events(log_dir: Path, events: int) -> float:
    from tensorboardX import SummaryWriter

    t0 = time.perf_counter()
    steps = events // len(TAGS)
    with SummaryWriter(str(log_dir), max_queue=10_000, flush_secs=600) as writer:
        for step in range(steps):
            for i, tag in enumerate(TAGS):
                writer.add_scalar(tag, (step % 1000) * 0.001 + i, step)
    return time.perf_counter() - t0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    args = parser.parse_args(argv)

    from tbparse import SummaryReader

    import liberry
    import liberry.server
    from liberry.tensorboard import find_log_dirs, read_log_dir

    with tempfile.TemporaryDirectory(prefix="bench-tb-") as tmp:
        log_dir = Path(tmp) / "logs" / "big-run"
        took = write_events(log_dir, args.events)
        size = sum(f.stat().st_size for f in log_dir.iterdir())
        steps = args.events // len(TAGS)
        print(f"wrote {args.events:,} scalar events ({len(TAGS)} tags x {steps:,} steps, "
              f"{size / 1e6:.1f} MB) with tensorboardX in {took:.1f} s")  # fmt: skip

        t0 = time.perf_counter()
        frame = SummaryReader(str(log_dir)).scalars
        t_tbparse = time.perf_counter() - t0
        assert len(frame) == args.events, len(frame)

        t0 = time.perf_counter()
        [(path, files)] = find_log_dirs(log_dir).items()
        parsed = read_log_dir(path, files)
        t_read = time.perf_counter() - t0
        assert len(parsed.rows) == steps

        with liberry.server.start(data_dir=Path(tmp) / "data", port=0) as srv:
            api = liberry.Api(overrides={"base_url": srv.url}, api_key=srv.api_key)
            t0 = time.perf_counter()
            [result] = api.sync_tensorboard(str(log_dir), project="bench", progress=False)
            t_sync = time.perf_counter() - t0
            t0 = time.perf_counter()
            [again] = api.sync_tensorboard(str(log_dir), project="bench", progress=False)
            t_resync = time.perf_counter() - t0
            run = api.run(result.path)
            assert run.history_line_count == steps and again.rows_added == 0
            assert run.summary["_step"] == steps - 1

    def rate(seconds: float) -> str:
        return f"{seconds:7.2f} s  {args.events / seconds / 1000:8.1f} k events/s"

    print(f"{'tbparse SummaryReader(dir).scalars (read only)':52} {rate(t_tbparse)}")
    print(f"{'liberry read phase (read_log_dir, rows by step)':52} {rate(t_read)}")
    print(f"{'liberry sync_tensorboard (read + upload + store)':52} {rate(t_sync)}")
    print(f"{'liberry re-sync, unchanged files (adds 0 rows)':52} {rate(t_resync)}")
    print(f"sync vs tbparse alone: {t_sync / t_tbparse:.2f}x the time; "
          f"history rows stored: {steps:,}")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
