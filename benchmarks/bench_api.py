"""Client benchmarks (issue #3): `liberry.Api` beside the official `wandb.Api` on one server.

Both clients talk to one liberry server (a subprocess on 127.0.0.1) seeded over the wire with
N runs (default 10,000; 8 config keys, 4 summary metrics each). The questions:

  1. N runs -> a DataFrame of config + summary.
     liberry: `api.runs(path).to_pandas()` (one request to the Arrow export, issue #19).
     wandb:   the loop users write, `[(r.config, r.summary) for r in api.runs(path)]`, then a
              DataFrame (one `Run` query per run). Target: liberry >= 20x faster.
  2. Iterate N runs' ids and states, `[(r.id, r.state) for r in api.runs(path)]`, both with
     their default page size (50). Target: liberry >= 3x faster.

Also shown, for reference: liberry running wandb's loop of question 1 unchanged (reading
`config`/`summary` costs one query per page there, not one per run).

    python benchmarks/bench_api.py              # 10,000 runs (wandb's loop takes minutes)
    python benchmarks/bench_api.py --quick      # 1,000 runs
    python benchmarks/bench_api.py --no-wandb   # liberry only

Question 2 alternates the clients `--repeat` times after a warm-up (medians), so a busy machine
slows both alike; question 1 times liberry `--repeat` times before and after wandb's slow loop
(timed once). Both API objects (and wandb-core) are created before timing; caches are flushed
before every call. Nothing is asserted: targets are printed with pass/fail marks.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import _common  # also puts the project root on sys.path
from _common import fmt_ratio, fmt_s, log, machine_line, print_table

PROJECT = "bench-api"
ENTITY = "admin"


def run_specs(n: int) -> list[Any]:
    from tests.seed import RunSpec

    rng = random.Random(7)
    specs = []
    for i in range(n):
        config = {
            "lr": rng.choice([1e-4, 3e-4, 1e-3, 3e-3, 1e-2]),
            "batch_size": rng.choice([32, 64, 128, 256]),
            "optimizer": rng.choice(["adam", "sgd", "adamw"]),
            "dropout": round(rng.uniform(0, 0.5), 3),
            "layers": rng.randint(2, 12),
            "seed": i,
            "dataset": rng.choice(["mnist", "cifar10", "imagenet"]),
            "arch": {"width": rng.choice([128, 256, 512]), "act": rng.choice(["relu", "gelu"])},
        }
        loss = round(rng.uniform(0.01, 2.5), 6)
        summary = {
            "loss": loss, "acc": round(1 - loss / 3, 6), "val_loss": round(loss * 1.1, 6),
            "epoch": rng.randint(1, 100), "_step": 999, "_runtime": rng.uniform(10, 5000),
            "_timestamp": 1.79e9 + i,
        }  # fmt: skip
        specs.append(
            RunSpec(PROJECT, run_id=f"b{i:06d}", config=config, summary=summary,
                    display_name=f"{config['optimizer']}-lr{config['lr']:g}",
                    tags=[config["dataset"]], exitcode=0 if i % 10 else 1)
        )  # fmt: skip
    return specs


def timed(fn: Callable[[], Any]) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def quiet_wandb_env(workdir: Path) -> None:
    for var in ("WANDB_DIR", "WANDB_CONFIG_DIR", "WANDB_CACHE_DIR", "WANDB_DATA_DIR"):
        os.environ[var] = str(workdir)
    os.environ.update(
        WANDB_SILENT="true", WANDB_ERROR_REPORTING="false", WANDB_DISABLE_GIT="true",
        WANDB_X_DISABLE_STATS="true", WANDB_CONSOLE="off",
    )  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=10_000, help="runs to seed (default 10,000)")
    parser.add_argument("--quick", action="store_true", help="1,000 runs")
    parser.add_argument("--repeat", type=int, default=3, help="timed calls per client (median)")
    parser.add_argument("--no-wandb", action="store_true", help="skip the wandb.Api peer")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    n = 1_000 if args.quick else args.runs

    import pandas as pd

    import liberry

    log(f"# bench_api: {n:,} runs — {machine_line()}")
    workdir = Path(tempfile.mkdtemp(prefix="liberry-bench-api-"))
    proc, url, key = _common.liberry_server(workdir / "data")
    results: dict[str, Any] = {"runs": n}
    try:
        proc.start()
        log(f"liberry server {url} (pid {proc.pid}) started in {fmt_s(proc.startup_s)}")

        from tests.seed import Seeder

        t0 = time.perf_counter()
        Seeder(url, key, ENTITY).write_many(run_specs(n), workers=2)
        results["seed_s"] = time.perf_counter() - t0
        log(f"seeded {n:,} runs over the wire (batched upsertBucket) in {fmt_s(results['seed_s'])}")

        path = f"{ENTITY}/{PROJECT}"
        api = liberry.Api(overrides={"base_url": url}, api_key=key)
        wapi: Any = None
        if not args.no_wandb:
            quiet_wandb_env(workdir / "wandb")
            import wandb

            t0 = time.perf_counter()
            wapi = wandb.Api(overrides={"base_url": url}, api_key=key)
            results["wandb_init_s"] = time.perf_counter() - t0
            log(f"wandb {wandb.__version__}: Api() in {fmt_s(results['wandb_init_s'])} (untimed)")

        def lib_frame() -> pd.DataFrame:
            api.flush()
            return api.runs(path).to_pandas(progress=False)

        def lib_ids() -> list[tuple[str, str | None]]:
            api.flush()
            return [(r.id, r.state) for r in api.runs(path)]

        def lib_loop() -> list[Any]:
            api.flush()
            return [(r.config, r.summary) for r in api.runs(path)]

        def wb_ids() -> list[tuple[str, str]]:
            wapi.flush()
            return [(r.id, r.state) for r in wapi.runs(path)]

        def wb_frame() -> pd.DataFrame:
            # The loop wandb users write: `.config` / `.summary` send one query per run.
            wapi.flush()
            rows = [(r.id, r.name, r.state, r.config, r.summary) for r in wapi.runs(path)]
            return pd.DataFrame.from_records(
                [
                    {"id": rid, "name": name, "state": state,
                     **{f"config.{k}": v for k, v in config.items()},
                     **{f"summary.{k}": v for k, v in dict(summary).items()}}
                    for rid, name, state, config, summary in rows
                ]
            )  # fmt: skip

        # Question 2 first (quick): the clients alternate, so a busy machine slows both alike.
        lib_ids()  # warm-up: connections, imports, server caches
        if wapi is not None:
            wb_ids()
        lib_ids_times, wb_ids_times = [], []
        for _ in range(args.repeat):
            api.client.operation_counts.clear()
            lib_ids_times.append(timed(lib_ids))
            ids_queries = sum(api.client.operation_counts.values())
            if wapi is not None:
                wb_ids_times.append(timed(wb_ids))
        lib_ids_s = statistics.median(lib_ids_times)
        wb_ids_s = statistics.median(wb_ids_times) if wb_ids_times else None
        log(f"ids+states: liberry {fmt_s(lib_ids_s)} ({ids_queries} queries), "
            f"wandb {fmt_s(wb_ids_s)}")  # fmt: skip

        # Question 1: liberry's export before and after wandb's (slow) loop.
        frame = lib_frame()
        assert len(frame) == n, len(frame)
        api.client.operation_counts.clear()
        server_cpu0 = _common.cpu_seconds(proc.pid)  # the export's other half (10 ms ticks)
        lib_frame_times = [timed(lib_frame) for _ in range(args.repeat)]
        lib_frame_server_cpu = (_common.cpu_seconds(proc.pid) - server_cpu0) / args.repeat
        frame_queries = sum(api.client.operation_counts.values()) // args.repeat
        api.client.operation_counts.clear()
        lib_loop_s = timed(lib_loop)
        loop_queries = sum(api.client.operation_counts.values())
        wb_frame_s = None
        if wapi is not None:
            log(f"wandb: config+summary loop over {n:,} runs (one query per run) ...")
            t0 = time.perf_counter()
            wframe = wb_frame()
            wb_frame_s = time.perf_counter() - t0
            mine = frame.set_index("id")
            theirs = wframe.set_index("id").loc[mine.index]
            assert (mine["config.lr"] == theirs["config.lr"]).all()
            assert (mine["summary.loss"] == theirs["summary.loss"]).all()
            lib_frame_times += [timed(lib_frame) for _ in range(args.repeat)]
        lib_frame_s = statistics.median(lib_frame_times)
        log(f"DataFrame: liberry to_pandas {fmt_s(lib_frame_s)} ({frame_queries} queries, "
            f"server CPU {fmt_s(lib_frame_server_cpu)} per call), "
            f"wandb loop {fmt_s(wb_frame_s)}; liberry running wandb's loop {fmt_s(lib_loop_s)} "
            f"({loop_queries} queries)")  # fmt: skip
        results["liberry"] = {
            "to_pandas_s": lib_frame_s, "to_pandas_queries": frame_queries,
            "to_pandas_server_cpu_s": lib_frame_server_cpu,
            "ids_states_s": lib_ids_s, "ids_states_queries": ids_queries,
            "config_summary_loop_s": lib_loop_s, "config_summary_loop_queries": loop_queries,
        }  # fmt: skip
        if wapi is not None:
            results["wandb"] = {"config_summary_frame_s": wb_frame_s, "ids_states_s": wb_ids_s}
    finally:
        proc.stop()
        shutil.rmtree(workdir, ignore_errors=True)

    def ratio(peer: float | None, ours: float) -> float | None:
        return None if peer is None else peer / ours

    r1, r2 = ratio(wb_frame_s, lib_frame_s), ratio(wb_ids_s, lib_ids_s)

    def mark(value: float | None, target: float) -> str:
        return "-" if value is None else ("PASS" if value >= target else "FAIL")

    print()
    rows = [
        [f"{n:,} runs -> DataFrame of config+summary", fmt_s(lib_frame_s), fmt_s(wb_frame_s),
         fmt_ratio(r1), ">= 20x", mark(r1, 20)],
        [f"iterate {n:,} runs' ids and states", fmt_s(lib_ids_s), fmt_s(wb_ids_s),
         fmt_ratio(r2), ">= 3x", mark(r2, 3)],
        ["(ref) wandb's config+summary loop, on liberry", fmt_s(lib_loop_s),
         fmt_s(wb_frame_s), fmt_ratio(ratio(wb_frame_s, lib_loop_s)), "", ""],
    ]  # fmt: skip
    print_table(
        ["question", "liberry", "wandb.Api", "ratio", "target", ""],
        rows,
        title=f"liberry.Api vs wandb.Api, same liberry server, {n:,} runs",
        right=(1, 2, 3),
    )
    results["ratios"] = {"frame": r1, "ids_states": r2}
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
