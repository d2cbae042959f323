"""Run file bytes through the server: local files (the peer) beside an S3 bucket (moto).

    python benchmarks/bench_storage.py            # one 512 MiB file
    python benchmarks/bench_storage.py --quick    # one 128 MiB file

For each backend, `python -m liberry.cli server` (a subprocess; `--storage s3://...` for
S3, against moto's S3 server on 127.0.0.1) receives one PUT of S bytes on a signed upload
URL, streamed by the client in 1 MiB chunks, and serves it back on one GET. Printed: MB/s
each way, and the server's peak RSS (every 50 ms), which must not grow with S: both backends
stream. moto is a Python S3 server on the same 2 cores, so the S3 column is a lower bound of
what MinIO or AWS would give; the ratio shows the cost of the extra hop, not S3's speed.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import _common
from _common import ROOT, fmt_mb, fmt_ratio, log, print_table

sys.path.insert(0, str(ROOT))

CREATE = """
mutation ($entity: String!, $project: String!, $run: String!, $files: [String!]!) {
  createRunFiles(input: {entityName: $entity, projectName: $project, runName: $run,
                         files: $files}) { files { name uploadUrl } }
}"""
URLS = """
query ($n: String!) { project(name: "bench", entityName: "admin") { run(name: $n) {
  files(first: 1) { edges { node { directUrl sizeBytes } } } } } }"""
MiB = 1 << 20


def _body(total: int) -> Iterator[bytes]:
    block = bytes(range(256)) * (MiB // 256)
    for _ in range(total // MiB):
        yield block


def measure(label: str, data_dir: Path, total: int, extra: list[str]) -> dict[str, Any]:
    import requests

    proc, url, key = _common.liberry_server(data_dir, extra_args=extra)
    proc.start()
    try:
        gql = _common.Gql(url, key)
        gql(_common_upsert(), {"entity": "admin", "project": "bench", "name": "r"})
        up = gql(CREATE, {"entity": "admin", "project": "bench", "run": "r", "files": ["x.bin"]})
        put_url = up["createRunFiles"]["files"][0]["uploadUrl"]
        assert proc.rss is not None
        with proc.rss.phase("put"):
            t0 = time.perf_counter()
            r = requests.put(put_url, data=_body(total), timeout=3600)
            put_s = time.perf_counter() - t0
        r.raise_for_status()
        node = gql(URLS, {"n": "r"})["project"]["run"]["files"]["edges"][0]["node"]
        assert node["sizeBytes"] == total, node
        with proc.rss.phase("get"):
            t0 = time.perf_counter()
            got = 0
            # identity: time the bytes, not the gzip middleware's compression.
            with requests.get(
                node["directUrl"], stream=True, timeout=3600,
                headers={"Accept-Encoding": "identity"},
            ) as resp:  # fmt: skip
                resp.raise_for_status()
                for chunk in resp.iter_content(MiB):
                    got += len(chunk)
            get_s = time.perf_counter() - t0
        assert got == total, (got, total)
        peak = max(proc.rss.phases.values())
    finally:
        proc.stop()
    log(f"{label}: PUT {total / MiB / put_s:.0f} MB/s, GET {total / MiB / get_s:.0f} MB/s")
    return {"put": total / MiB / put_s, "get": total / MiB / get_s, "rss": peak}


def _common_upsert() -> str:
    from tests.wire import UPSERT

    return UPSERT


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a 128 MiB file instead of 512")
    parser.add_argument("--mib", type=int, help="file size in MiB")
    args = parser.parse_args()
    total = (args.mib or (128 if args.quick else 512)) * MiB
    print(_common.machine_line())
    from tests.s3_moto import moto_s3, new_bucket

    before = _common.load_average()
    with tempfile.TemporaryDirectory() as tmp, moto_s3() as endpoint:
        local = measure("local", Path(tmp) / "local", total, [])
        storage = new_bucket(endpoint, "bench")
        s3 = measure("s3", Path(tmp) / "s3", total, ["--storage", storage])
    after = _common.load_average()
    rows = [
        [f"PUT {total // MiB} MiB, MB/s", f"{local['put']:.0f}", f"{s3['put']:.0f}",
         fmt_ratio(s3["put"] / local["put"])],
        [f"GET {total // MiB} MiB, MB/s", f"{local['get']:.0f}", f"{s3['get']:.0f}",
         fmt_ratio(s3["get"] / local["get"])],
        ["server peak RSS", fmt_mb(local["rss"]), fmt_mb(s3["rss"]),
         fmt_ratio(s3["rss"] / local["rss"])],
    ]  # fmt: skip
    print_table(["run file through the server", "local", "S3 (moto)", "S3/local"], rows)
    warning = _common.load_warning(before, after)
    if warning:
        print(f"note: {warning}")


if __name__ == "__main__":
    main()
