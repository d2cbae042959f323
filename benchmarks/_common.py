"""Shared helpers for the benchmarks: server subprocesses, RSS sampling, timing, tables.

Every `bench_*.py` script imports this module by its plain name (`import _common`): a script's
own folder is on `sys.path` when it runs. Importing it also puts the project root on
`sys.path`, so `import liberry` works from a source checkout without installing it.

Nothing here asserts a figure: benchmarks print, they never fail on a slow number.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


# --------------------------------------------------------------------------- formatting


def log(*parts: Any) -> None:
    """A progress line on stderr-free stdout, flushed (run_all streams it live)."""
    print(*parts, flush=True)


def fmt_s(seconds: float | None) -> str:
    """`12.3 ms`, `1.23 s`, `2 min 05 s`; `-` for None."""
    if seconds is None or (isinstance(seconds, float) and math.isnan(seconds)):
        return "-"
    if seconds < 1e-3:
        return f"{seconds * 1e6:.0f} µs"
    if seconds < 1:
        return f"{seconds * 1e3:.1f} ms" if seconds < 0.1 else f"{seconds * 1e3:.0f} ms"
    if seconds < 120:
        return f"{seconds:.2f} s" if seconds < 10 else f"{seconds:.1f} s"
    return f"{int(seconds // 60)} min {int(seconds % 60):02d} s"


def fmt_mb(nbytes: float | None) -> str:
    return "-" if nbytes is None else f"{nbytes / 2**20:.0f} MB"


def fmt_rate(per_s: float | None, unit: str) -> str:
    if per_s is None:
        return "-"
    if per_s >= 10_000:
        return f"{per_s:,.0f} {unit}/s"
    return f"{per_s:,.1f} {unit}/s" if per_s < 100 else f"{per_s:,.0f} {unit}/s"


def fmt_ratio(ratio: float | None) -> str:
    if ratio is None or math.isnan(ratio):
        return "-"
    if ratio >= 100:
        return f"{ratio:,.0f}x"
    return f"{ratio:.1f}x" if ratio >= 10 else f"{ratio:.2f}x"


def print_table(
    headers: Sequence[str],
    rows: Sequence[Sequence[Any]],
    *,
    title: str | None = None,
    right: Sequence[int] = (),
) -> None:
    """A plain monospace table; columns whose index is in `right` are right-aligned."""
    cells = [[str(h) for h in headers]] + [[str(c) for c in r] for r in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]

    def line(row: Sequence[str]) -> str:
        out = []
        for i, c in enumerate(row):
            out.append(c.rjust(widths[i]) if i in right else c.ljust(widths[i]))
        return "| " + " | ".join(out) + " |"

    if title:
        print(f"\n{title}")
    print(line(cells[0]))
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for row in cells[1:]:
        print(line(row))
    sys.stdout.flush()


# --------------------------------------------------------------------------- timing


def percentile(values: Sequence[float], p: float) -> float:
    """The p-th percentile (0-100), linearly interpolated; NaN for no values."""
    if not values:
        return math.nan
    xs = sorted(values)
    k = (len(xs) - 1) * p / 100
    lo, hi = math.floor(k), math.ceil(k)
    return xs[lo] + (xs[hi] - xs[lo]) * (k - lo)


@dataclass
class Timings:
    """Wall-clock seconds of repeated calls (warm-up calls excluded, but `cold` is the first)."""

    samples: list[float] = field(default_factory=list)
    cold: float | None = None
    cpu_per_call: float | None = None  # CPU seconds of `cpu_pid`'s tree per timed call

    @property
    def n(self) -> int:
        return len(self.samples)

    @property
    def p50(self) -> float:
        return percentile(self.samples, 50)

    @property
    def p95(self) -> float:
        return percentile(self.samples, 95)

    @property
    def min(self) -> float:
        return min(self.samples) if self.samples else math.nan

    @property
    def mean(self) -> float:
        return statistics.fmean(self.samples) if self.samples else math.nan

    def as_dict(self) -> dict[str, Any]:
        return {
            "n": self.n,
            "p50_s": self.p50,
            "p95_s": self.p95,
            "min_s": self.min,
            "cold_s": self.cold,
            "server_cpu_per_call_s": self.cpu_per_call,
        }


def time_calls(
    fn: Callable[[], Any],
    *,
    repeat: int,
    warmup: int = 1,
    min_repeat: int = 3,
    budget_s: float | None = None,
    cpu_pid: int | None = None,
) -> Timings:
    """Call `fn` `warmup` times untimed (the first one is kept as `cold`), then up to `repeat`
    timed times; stops early once `budget_s` is spent and at least `min_repeat` calls ran, so a
    slow peer still finishes in bounded time while a fast one gets the full count.

    A call so slow that the first warm-up alone took over half of `budget_s` (tens of seconds)
    counts as a sample itself, and only one more call is made: warm-up is noise there.

    With `cpu_pid` (a server's pid), also the CPU time its process tree spent per timed call:
    unlike wall time, barely moved by other work competing for the machine."""
    out = Timings()
    for i in range(warmup):
        t0 = time.perf_counter()
        fn()
        if i == 0:
            out.cold = time.perf_counter() - t0
            if budget_s is not None and out.cold > budget_s / 2:
                out.samples.append(out.cold)
                min_repeat, repeat = 1, 1
                break
    cpu0 = cpu_seconds(cpu_pid) if cpu_pid else 0.0
    start = time.perf_counter()
    calls = 0
    for i in range(repeat):
        t0 = time.perf_counter()
        fn()
        calls += 1
        out.samples.append(time.perf_counter() - t0)
        if out.cold is None:
            out.cold = out.samples[0]
        if budget_s is not None and i + 1 >= min_repeat and time.perf_counter() - start > budget_s:
            break
    if cpu_pid and calls:
        out.cpu_per_call = (cpu_seconds(cpu_pid) - cpu0) / calls
    return out


@contextlib.contextmanager
def stopwatch() -> Iterator[list[float]]:
    """`with stopwatch() as sw: ...` then `sw[0]` is the elapsed seconds."""
    box: list[float] = []
    t0 = time.perf_counter()
    try:
        yield box
    finally:
        box.append(time.perf_counter() - t0)


# --------------------------------------------------------------------------- processes & RSS


def synth_config(
    i: int, rng: Any, optimizers: Sequence[str], archs: Sequence[str]
) -> tuple[dict[str, Any], float, float]:
    """Run i's config (8 keys) and its (loss, accuracy), both driven by one hidden quality:
    the synthetic projects the store benchmarks fill."""
    quality = rng.random()
    loss = round(0.02 + 2.3 * (1 - quality) + rng.random() * 0.05, 7)
    acc = round(0.1 + 0.89 * quality - rng.random() * 0.02, 7)
    config = {
        "lr": round(10 ** rng.uniform(-4, -1), 7),
        "batch_size": rng.choice((16, 32, 64, 128, 256)),
        "optimizer": rng.choice(optimizers),
        "layers": rng.randint(2, 24),
        "dropout": round(rng.uniform(0, 0.5), 3),
        "weight_decay": round(10 ** rng.uniform(-6, -2), 9),
        "arch": rng.choice(archs),
        "seed": i,
    }
    return config, loss, acc


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _children_map() -> dict[int, list[int]]:
    kids: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as fh:
                stat = fh.read()
        except OSError:
            continue
        # Field 4 (ppid) follows the parenthesised command, which may itself hold spaces.
        rest = stat[stat.rfind(b")") + 2 :].split()
        kids.setdefault(int(rest[1]), []).append(int(entry))
    return kids


def _children_of(pid: int) -> list[int] | None:
    """Direct children from /proc/PID/task/*/children; None where the kernel lacks the file."""
    out: list[int] = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return []
    for tid in tasks:
        try:
            with open(f"/proc/{pid}/task/{tid}/children") as fh:
                out.extend(int(x) for x in fh.read().split())
        except FileNotFoundError:
            if not os.path.exists(f"/proc/{pid}/task/{tid}"):
                continue  # the thread just ended
            return None
        except OSError:
            continue
    return out


def process_tree(pid: int) -> list[int]:
    """`pid` and all its descendants (psutil when installed, else /proc)."""
    try:
        import psutil

        try:
            root = psutil.Process(pid)
            return [pid, *(c.pid for c in root.children(recursive=True))]
        except psutil.Error:
            return []
    except ImportError:
        pass
    out, todo = [], [pid]
    kids_map: dict[int, list[int]] | None = None
    while todo:
        p = todo.pop()
        out.append(p)
        kids = _children_of(p)
        if kids is None:  # no children files: one scan of every process's parent
            kids_map = kids_map if kids_map is not None else _children_map()
            kids = kids_map.get(p, [])
        todo.extend(kids)
    return out


_TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds used so far by `pid` and its descendants (10 ms resolution)."""
    total = 0
    for p in process_tree(pid):
        try:
            with open(f"/proc/{p}/stat", "rb") as fh:
                fields = fh.read().rsplit(b")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14, 15)
        except (OSError, IndexError, ValueError):
            continue
    return total / _TICK


def rss_of(pid: int) -> int:
    """Resident set size of one process in bytes (0 once it is gone)."""
    try:
        with open(f"/proc/{pid}/statm") as fh:
            return int(fh.read().split()[1]) * _PAGE
    except (OSError, IndexError, ValueError):
        return 0


def cmdline_of(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            return fh.read().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return ""


class RssSampler:
    """Samples the RSS of a process tree every `interval` s in a daemon thread.

    `peak_total` is the peak of the tree's summed RSS; `peak_largest` the peak of its largest
    single process (for servers that fork a launcher plus a worker). `phase(name)` records the
    peak seen while a block runs.
    """

    def __init__(self, pid: int, interval: float = 0.05) -> None:
        self.pid = pid
        self.interval = interval
        self.peak_total = 0
        self.peak_largest = 0
        self.largest_cmd = ""
        self.last_total = 0
        self.phases: dict[str, int] = {}
        self._active: dict[str, int] = {}
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._pids: list[int] = []
        self._tree_at = -math.inf
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)

    def start(self) -> RssSampler:
        self.sample()
        self._thread.start()
        return self

    def sample(self) -> int:
        now = time.monotonic()
        if now - self._tree_at > 1.0:  # the tree rarely changes: look for new children each 1 s
            self._pids = process_tree(self.pid)
            self._tree_at = now
        per = {p: rss_of(p) for p in self._pids}
        total = sum(per.values())
        with self._lock:
            self.last_total = total
            self.peak_total = max(self.peak_total, total)
            if per:
                big = max(per, key=lambda p: per[p])
                if per[big] > self.peak_largest:
                    self.peak_largest = per[big]
                    self.largest_cmd = cmdline_of(big)
            for name in self._active:
                self._active[name] = max(self._active[name], total)
        return total

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.sample()

    @contextlib.contextmanager
    def phase(self, name: str) -> Iterator[None]:
        with self._lock:
            self._active[name] = self.last_total
        try:
            yield
        finally:
            self.sample()
            with self._lock:
                self.phases[name] = max(self.phases.get(name, 0), self._active.pop(name))

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)
        self._tree_at = -math.inf
        self.sample()


class ServerProcess:
    """A server run as a subprocess in its own session, so stopping it ends its whole group
    (and nothing else). Output goes to `log_path`; `start()` waits until `health_url` answers."""

    def __init__(
        self,
        name: str,
        cmd: Sequence[str],
        *,
        health_url: str,
        log_path: Path,
        env: dict[str, str] | None = None,
        cwd: Path | None = None,
        startup_timeout: float = 120.0,
    ) -> None:
        self.name = name
        self.cmd = list(cmd)
        self.health_url = health_url
        self.log_path = log_path
        self.env = env
        self.cwd = cwd
        self.startup_timeout = startup_timeout
        self.proc: subprocess.Popen[bytes] | None = None
        self.rss: RssSampler | None = None
        self.startup_s: float | None = None
        self._t0 = 0.0
        self.ready_before_asked = False

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def start(self, sample_interval: float = 0.05) -> ServerProcess:
        """Launch, then wait until the health URL answers 200."""
        return self.launch(sample_interval).wait_ready()

    def launch(self, sample_interval: float = 0.05) -> ServerProcess:
        """Start the process (and RSS sampling) without waiting for it to be ready."""
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        logfh = open(self.log_path, "ab")  # noqa: SIM115 - owned by the child's lifetime
        self._t0 = time.perf_counter()
        self.proc = subprocess.Popen(
            self.cmd,
            stdout=logfh,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=self.env,
            cwd=self.cwd,
            start_new_session=True,
        )
        logfh.close()
        self.rss = RssSampler(self.proc.pid, sample_interval).start()
        return self

    def wait_ready(self) -> ServerProcess:
        import requests

        assert self.proc is not None, "launch() first"
        if self.startup_s is not None:
            return self
        deadline = time.monotonic() + self.startup_timeout
        first_poll = True
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"{self.name} exited with code {self.proc.returncode} while starting; "
                    f"log tail:\n{self.log_tail()}"
                )
            try:
                r = requests.get(self.health_url, timeout=2)
                if r.status_code == 200:
                    # Already up at the first look: how long it took is not known.
                    self.ready_before_asked = first_poll and time.perf_counter() - self._t0 > 2
                    break
            except requests.RequestException:
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(
                    f"{self.name} did not answer {self.health_url} within "
                    f"{self.startup_timeout:.0f} s; log tail:\n{self.log_tail()}"
                )
            first_poll = False
            time.sleep(0.1)
        self.startup_s = time.perf_counter() - self._t0
        return self

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def stop(self, timeout: float = 20.0) -> None:
        """SIGTERM to the server's own process group, then SIGKILL if it lingers."""
        if self.rss is not None:
            self.rss.stop()
        if self.proc is None or self.proc.poll() is not None:
            return
        pgid = self.proc.pid  # the leader of the session started for it
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pgid, signal.SIGKILL)
            self.proc.wait(timeout=10)
        # Grandchildren that outlived their parent are still in the group.
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            try:
                os.killpg(pgid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.1)
        else:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pgid, signal.SIGKILL)

    def __enter__(self) -> ServerProcess:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()


# --------------------------------------------------------------------------- liberry


def liberry_server(data_dir: Path, *, port: int | None = None,
                   log_path: Path | None = None,
                   extra_args: Sequence[str] = (),
                   database_url: str | None = None,
                   env: dict[str, str] | None = None) -> tuple[ServerProcess, str, str]:
    """A (not yet started) `python -m liberry.cli server` subprocess over `data_dir`.

    Returns (process, base_url, api_key). The data dir is opened (created, bootstrapped) here,
    so the admin key in `data_dir/api_key` exists before the server starts. `database_url`
    (PostgreSQL) is passed on as `--database-url`; `env` is added to the server's environment.
    """
    from liberry.server.datadir import DataDir

    data = DataDir.open(data_dir, database_url)
    key = data.api_key
    data.store.close()
    port = port or free_port()
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ, **(env or {}), "PYTHONPATH": os.pathsep.join(
        [str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])])}
    database = ["--database-url", database_url] if database_url else []
    cmd = [sys.executable, "-m", "liberry.cli", "server", "--data-dir", str(data_dir),
           "--host", "127.0.0.1", "--port", str(port), *database, *extra_args]
    proc = ServerProcess("liberry server", cmd, health_url=f"{url}/healthz",
                         log_path=log_path or data_dir / "server.log", env=env, cwd=ROOT)
    return proc, url, key


class Gql:
    """Raw GraphQL over HTTP with Basic auth `api:<key>`; raises on HTTP or GraphQL errors."""

    def __init__(self, url: str, api_key: str) -> None:
        import requests

        self.url = url.rstrip("/")
        self.http = requests.Session()
        self.http.auth = ("api", api_key)

    def __call__(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        r = self.http.post(
            f"{self.url}/graphql", json={"query": query, "variables": variables or {}}, timeout=600
        )
        if r.status_code != 200:
            raise RuntimeError(f"GraphQL HTTP {r.status_code}: {r.text[:500]}")
        body = r.json()
        if body.get("errors"):
            raise RuntimeError(f"GraphQL error: {json.dumps(body['errors'])[:500]}")
        return body["data"]

    def post_json_bytes(self, path: str, body: bytes) -> Any:
        r = self.http.post(
            f"{self.url}{path}",
            data=body,
            headers={"Content-Type": "application/json"},
            timeout=600,
        )
        if r.status_code != 200:
            raise RuntimeError(f"POST {path}: HTTP {r.status_code}: {r.text[:500]}")
        return r.json()


def which_or_none(name: str) -> str | None:
    return shutil.which(name)


def load_average() -> float:
    """The 1-minute load average (runnable processes); above the core count means other
    work competed for the CPU while a benchmark ran."""
    try:
        return float(os.getloadavg()[0])
    except OSError:
        return math.nan


def load_warning(before: float, after: float) -> str | None:
    cores = os.cpu_count() or 1
    # A benchmark keeps about two processes busy itself (client + server): count only beyond.
    if before > 1.0 or after > cores + 1:
        return (
            f"the machine was busy with other work (1-min load average {before:.1f} at the "
            f"start, {after:.1f} at the end, on {cores} cores): these figures are "
            "pessimistic; rerun on an idle machine"
        )
    return None


def machine_line() -> str:
    """`2 cores, 23 GB RAM, Python 3.11.7, Linux 6.x`: printed at the top of each benchmark."""
    import platform

    try:
        with open("/proc/meminfo") as fh:
            mem_kb = int(fh.readline().split()[1])
        mem = f"{mem_kb / 2**20:.0f} GB RAM"
    except (OSError, ValueError, IndexError):
        mem = "? GB RAM"
    return (
        f"{os.cpu_count()} cores, {mem}, Python {platform.python_version()}, "
        f"{platform.system()} {platform.release()}"
    )
